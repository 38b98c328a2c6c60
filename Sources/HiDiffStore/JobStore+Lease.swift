import Foundation
import HiDiffPostgres

/// Changes made under a lease. Each is conditioned on (id, attempt, lease_owner, state = 'running') and
/// throws `StoreError.leaseLost` — changing nothing — when the lease no longer holds the job. An expired
/// lease that was not rescued yet still holds.
extension JobStore {
    /// Extends the lease to now + `seconds`.
    public func renew(_ lease: Lease, for seconds: Double) throws {
        let now = clock.now()
        try updateFenced(connection, lease, set: "lease_expires_at = $4, updated_at = $5",
                         [.timestamp(now.addingTimeInterval(seconds)), .timestamp(now)])
    }

    /// Records the current step and renews the lease to now + `leaseSeconds`. `total`, when given, is the
    /// number of steps the worker actually runs (PNDM runs one more than requested, img2img fewer), which
    /// replaces the job's `steps`. Not an event; notifies `hidiff_job_events`. A step beyond the steps
    /// throws `.invalid`.
    public func recordProgress(_ lease: Lease, step: Int, of total: Int? = nil, leaseSeconds: Double) throws {
        let now = clock.now()
        try invalidIfRejected("progress of \(lease) to step \(step)") {
            try updateFenced(connection, lease, set: """
                step = $4, lease_expires_at = $5, updated_at = $6, steps = COALESCE($7::integer, steps),
                first_step_at = CASE WHEN $4::integer > 0 THEN COALESCE(first_step_at, $6) ELSE first_step_at END
                """, [.int(Int64(step)), .timestamp(now.addingTimeInterval(leaseSeconds)), .timestamp(now),
                      total.map { .int(Int64($0)) } ?? .null])
        }
    }

    /// Records the workers that render the job together, in rank order (a sharded job's group); event
    /// 'grouped'. The claim recorded only the worker it was made for.
    public func recordGroup(_ lease: Lease, workers: [String]) throws {
        guard !workers.isEmpty, workers.allSatisfy({ !$0.isEmpty }) else {
            throw StoreError.invalid("group of \(lease): worker names must be non-empty")
        }
        let now = clock.now()
        try connection.transaction { c in
            _ = try lockFenced(c, lease)
            try updateFenced(c, lease, set: "workers = $4, updated_at = $5", [.textArray(workers), .timestamp(now)])
            try recordEvent(c, jobID: lease.jobID, attempt: lease.attempt, kind: .grouped, worker: workers[0], at: now,
                            detail: ["workers": workers])
        }
    }

    /// Fixes how many workers render the job together (the coordinator's choice for a job submitted without
    /// one); later claims hand it out only to that many.
    public func setGroupSize(_ lease: Lease, to size: Int) throws {
        guard (1...64).contains(size) else { throw StoreError.invalid("group size \(size) of \(lease) is outside 1...64") }
        try updateFenced(connection, lease, set: "group_size = $4, updated_at = $5", [.int(Int64(size)), .timestamp(clock.now())])
    }

    /// Replaces the job's checkpoint with `state` at `step`; event 'checkpointed'.
    public func saveCheckpoint(_ lease: Lease, step: Int, state: [UInt8]) throws {
        let now = clock.now()
        try connection.transaction { c in
            let row = try lockFenced(c, lease)
            let steps = Int(try row.int("steps"))
            guard (0...steps).contains(step) else {
                throw StoreError.invalid("checkpoint of \(lease) at step \(step): the job has \(steps) steps")
            }
            try updateFenced(c, lease, set: "updated_at = $4", [.timestamp(now)])
            try c.execute("""
                INSERT INTO checkpoints (job_id, attempt, step, state, created_at) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (job_id) DO UPDATE
                SET attempt = EXCLUDED.attempt, step = EXCLUDED.step, state = EXCLUDED.state, created_at = EXCLUDED.created_at
                """, [.int(lease.jobID), .int(Int64(lease.attempt)), .int(Int64(step)), .bytes(state), .timestamp(now)])
            try recordEvent(c, jobID: lease.jobID, attempt: lease.attempt, kind: .checkpointed,
                            worker: try row.optionalString("worker"), at: now,
                            detail: ["step": step, "bytes": state.count])
        }
    }

    /// Marks the job succeeded (step = steps, error cleared), stores its result and drops its checkpoint;
    /// event 'succeeded'. Invalid `metadataJSON` throws `.invalid`.
    ///
    /// Idempotent for its own lease: if this very lease already completed the job (e.g. the COMMIT of an
    /// earlier call was lost with the connection and the caller retried), it returns without changing
    /// anything (the first result stays). Any other stale lease throws `.leaseLost`.
    public func complete(_ lease: Lease, png: [UInt8], latents: [UInt8], metadataJSON: String) throws {
        let now = clock.now()
        try connection.transaction { c in
            let row: PostgresRow
            do {
                row = try lockFenced(c, lease)
            } catch StoreError.leaseLost(let lost) {
                if try completedBy(c, lease) { return }
                throw StoreError.leaseLost(lost)
            }
            try updateFenced(c, lease, set: """
                state = 'succeeded', step = steps, lease_owner = NULL, lease_expires_at = NULL, error = NULL,
                finished_at = $4, updated_at = $4
                """, [.timestamp(now)])
            try invalidIfRejected("result of \(lease)") {
                try c.execute("""
                    INSERT INTO results (job_id, png, latents, metadata, created_at) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (job_id) DO UPDATE
                    SET png = EXCLUDED.png, latents = EXCLUDED.latents, metadata = EXCLUDED.metadata,
                        created_at = EXCLUDED.created_at
                    """, [.int(lease.jobID), .bytes(png), .bytes(latents), .json(metadataJSON), .timestamp(now)])
            }
            try c.execute("DELETE FROM checkpoints WHERE job_id = $1", [.int(lease.jobID)])
            try recordEvent(c, jobID: lease.jobID, attempt: lease.attempt, kind: .succeeded,
                            worker: try row.optionalString("worker"), at: now,
                            detail: ["png_bytes": png.count, "latents_bytes": latents.count])
        }
    }

    /// True when `lease` is the claim that completed its job.
    private func completedBy(_ c: PostgresConnection, _ lease: Lease) throws -> Bool {
        try !c.query("""
            SELECT 1 FROM jobs AS j
            WHERE j.id = $1 AND j.attempt = $2 AND j.state = 'succeeded' AND EXISTS (
                SELECT 1 FROM job_events AS e
                WHERE e.job_id = j.id AND e.attempt = $2 AND e.kind = 'claimed' AND e.detail->>'owner' = $3)
            """, Self.fenceParameters(lease)).isEmpty
    }

    /// Records a failed attempt (appended to `errors`, kept in `error`) and returns the new state:
    /// `.cancelled` if a cancel was requested; `.queued` with available_at = now + backoff when `retryable`
    /// and attempts remain (event 'retry-scheduled'); otherwise `.failed` (event 'failed').
    @discardableResult
    public func fail(_ lease: Lease, error: String, retryable: Bool) throws -> JobState {
        let now = clock.now()
        return try connection.transaction { c in
            let row = try lockFenced(c, lease)
            let maxAttempts = Int(try row.int("max_attempts"))
            let worker = try row.optionalString("worker")
            let entry = Self.json(["attempt": lease.attempt, "at": Self.iso(now), "worker": worker, "error": error])
            let common = "lease_owner = NULL, lease_expires_at = NULL, error = $4, errors = errors || jsonb_build_array($5), updated_at = $6"
            let params: [PostgresValue] = [.text(error), .json(entry), .timestamp(now)]
            if try row.bool("cancel_requested") {
                try updateFenced(c, lease, set: "state = 'cancelled', finished_at = $6, " + common, params)
                try recordEvent(c, jobID: lease.jobID, attempt: lease.attempt, kind: .cancelled, worker: worker, at: now,
                                detail: ["error": error, "reason": "cancel requested"])
                return .cancelled
            }
            if retryable && lease.attempt < maxAttempts {
                let delay = retry.delay(afterAttempt: lease.attempt)
                let available = now.addingTimeInterval(delay)
                try updateFenced(c, lease, set: "state = 'queued', available_at = $7, " + common,
                                 params + [.timestamp(available)])
                try recordEvent(c, jobID: lease.jobID, attempt: lease.attempt, kind: .retryScheduled, worker: worker,
                                at: now, detail: ["error": error, "delay": delay, "available_at": Self.iso(available)])
                return .queued
            }
            try updateFenced(c, lease, set: "state = 'failed', finished_at = $6, " + common, params)
            try recordEvent(c, jobID: lease.jobID, attempt: lease.attempt, kind: .failed, worker: worker, at: now,
                            detail: ["error": error, "retryable": retryable, "max_attempts": maxAttempts])
            return .failed
        }
    }

    /// Running -> cancelled (the worker stopped it, normally after a cancel request); event 'cancelled'.
    public func markCancelled(_ lease: Lease) throws {
        let now = clock.now()
        try connection.transaction { c in
            let row = try lockFenced(c, lease)
            try updateFenced(c, lease, set: "state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, finished_at = $4, updated_at = $4",
                             [.timestamp(now)])
            try recordEvent(c, jobID: lease.jobID, attempt: lease.attempt, kind: .cancelled,
                            worker: try row.optionalString("worker"), at: now)
        }
    }

    /// Running -> queued at once, WITHOUT consuming the retry budget (drain, worker left cleanly): the
    /// attempt number stays (the next claim increments it, so leases stay unique) and max_attempts grows by
    /// one to compensate. The checkpoint stays for the next claim. If a cancel was requested the job becomes
    /// cancelled instead. Event 'released' (or 'cancelled'). Returns the new state.
    @discardableResult
    public func release(_ lease: Lease, reason: String) throws -> JobState {
        let now = clock.now()
        return try connection.transaction { c in
            let row = try lockFenced(c, lease)
            let worker = try row.optionalString("worker")
            if try row.bool("cancel_requested") {
                try updateFenced(c, lease, set: "state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, finished_at = $4, updated_at = $4",
                                 [.timestamp(now)])
                try recordEvent(c, jobID: lease.jobID, attempt: lease.attempt, kind: .cancelled, worker: worker, at: now,
                                detail: ["reason": reason])
                return .cancelled
            }
            try updateFenced(c, lease, set: """
                state = 'queued', lease_owner = NULL, lease_expires_at = NULL, available_at = $4, updated_at = $4,
                max_attempts = max_attempts + 1
                """, [.timestamp(now)])
            try recordEvent(c, jobID: lease.jobID, attempt: lease.attempt, kind: .released, worker: worker, at: now,
                            detail: ["reason": reason])
            return .queued
        }
    }
}
