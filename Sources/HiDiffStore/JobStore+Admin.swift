import Foundation
import HiDiffPostgres

/// Cancellation, rescue of expired leases and admin retries.
extension JobStore {
    /// Cancels jobs: queued ones become cancelled at once (event 'cancelled'); running ones get
    /// cancel_requested (event 'cancel-requested') and are stopped by their worker (`cancelRequested`,
    /// then `markCancelled`), or cancelled by `fail`/`release`/`rescueExpired`. Returns the affected ids,
    /// sorted; terminal jobs, unknown ids and already requested ones are not included.
    @discardableResult
    public func cancel(jobIDs: [Int64]) throws -> [Int64] {
        guard !jobIDs.isEmpty else { return [] }
        let now = clock.now()
        return try connection.transaction { c in
            var affected: [Int64] = []
            let cancelled = try c.query("""
                UPDATE jobs SET state = 'cancelled', finished_at = $2, updated_at = $2
                WHERE id = ANY($1::text[]::bigint[]) AND state = 'queued'
                RETURNING id, attempt
                """, [Self.idArray(jobIDs), .timestamp(now)])
            for row in cancelled {
                let id = try row.int("id")
                try recordEvent(c, jobID: id, attempt: Int(try row.int("attempt")), kind: .cancelled, worker: nil,
                                at: now, detail: ["reason": "cancelled while queued"])
                affected.append(id)
            }
            let requested = try c.query("""
                UPDATE jobs SET cancel_requested = true, updated_at = $2
                WHERE id = ANY($1::text[]::bigint[]) AND state = 'running' AND NOT cancel_requested
                RETURNING id, attempt, workers[1] AS worker
                """, [Self.idArray(jobIDs), .timestamp(now)])
            for row in requested {
                let id = try row.int("id")
                try recordEvent(c, jobID: id, attempt: Int(try row.int("attempt")), kind: .cancelRequested,
                                worker: try row.optionalString("worker"), at: now)
                affected.append(id)
            }
            return affected.sorted()
        }
    }

    /// `cancel(jobIDs:)` for every job of `batch` (an unknown batch affects nothing).
    @discardableResult
    public func cancel(batch: String) throws -> [Int64] {
        try connection.transaction { c in
            let ids = try c.query("SELECT id FROM jobs WHERE batch = $1 AND state IN ('queued', 'running') ORDER BY id FOR UPDATE",
                                  [.text(batch)]).map { try $0.int("id") }
            return try cancel(jobIDs: ids)
        }
    }

    /// The subset of `leases` whose job (still held by that lease) has a cancel request.
    public func cancelRequested(_ leases: [Lease]) throws -> [Lease] {
        guard !leases.isEmpty else { return [] }
        let rows = try connection.query("""
            SELECT id, attempt, lease_owner FROM jobs
            WHERE id = ANY($1::text[]::bigint[]) AND state = 'running' AND cancel_requested
            """, [Self.idArray(leases.map(\.jobID))])
        var held = Set<Lease>()
        for row in rows {
            held.insert(Lease(jobID: try row.int("id"), attempt: Int(try row.int("attempt")),
                              owner: try row.string("lease_owner")))
        }
        return leases.filter { held.contains($0) }
    }

    /// Running jobs whose lease expired before now: event 'rescued', then cancel_requested -> cancelled;
    /// attempts left -> queued and claimable at once (the expiry counts as a failed attempt in `errors`);
    /// else failed with "lease expired ..." (event 'failed'). Returns the rescued ids, sorted.
    /// Rows locked by a concurrent change are skipped (the next rescue sees them).
    @discardableResult
    public func rescueExpired() throws -> [Int64] {
        let now = clock.now()
        return try connection.transaction { c in
            let rows = try c.query("""
                SELECT id, attempt, max_attempts, cancel_requested, lease_owner, lease_expires_at, workers[1] AS worker
                FROM jobs WHERE state = 'running' AND lease_expires_at < $1
                ORDER BY id FOR UPDATE SKIP LOCKED
                """, [.timestamp(now)])
            var rescued: [Int64] = []
            for row in rows {
                let lease = Lease(jobID: try row.int("id"), attempt: Int(try row.int("attempt")),
                                  owner: try row.string("lease_owner"))
                let maxAttempts = Int(try row.int("max_attempts"))
                let worker = try row.optionalString("worker")
                let expiredAt = try row.date("lease_expires_at")
                let error = "lease expired at \(Self.iso(expiredAt)) on attempt \(lease.attempt) of \(maxAttempts) "
                    + "(owner \(lease.owner), worker \(worker ?? "?"))"
                let entry = Self.json(["attempt": lease.attempt, "at": Self.iso(now), "worker": worker, "error": error])
                let common = "lease_owner = NULL, lease_expires_at = NULL, error = $4, errors = errors || jsonb_build_array($5), updated_at = $6"
                let params: [PostgresValue] = [.text(error), .json(entry), .timestamp(now)]
                let outcome: JobState
                if try row.bool("cancel_requested") {
                    outcome = .cancelled
                    try updateFenced(c, lease, set: "state = 'cancelled', finished_at = $6, " + common, params)
                } else if lease.attempt < maxAttempts {
                    outcome = .queued
                    try updateFenced(c, lease, set: "state = 'queued', available_at = $6, " + common, params)
                } else {
                    outcome = .failed
                    try updateFenced(c, lease, set: "state = 'failed', finished_at = $6, " + common, params)
                }
                try recordEvent(c, jobID: lease.jobID, attempt: lease.attempt, kind: .rescued, worker: worker, at: now,
                                detail: ["owner": lease.owner, "lease_expired_at": Self.iso(expiredAt),
                                         "outcome": outcome.rawValue])
                if outcome == .cancelled {
                    try recordEvent(c, jobID: lease.jobID, attempt: lease.attempt, kind: .cancelled, worker: worker,
                                    at: now, detail: ["reason": "cancel requested; lease expired"])
                } else if outcome == .failed {
                    try recordEvent(c, jobID: lease.jobID, attempt: lease.attempt, kind: .failed, worker: worker,
                                    at: now, detail: ["error": error, "max_attempts": maxAttempts])
                }
                rescued.append(lease.jobID)
            }
            return rescued
        }
    }

    /// Admin retry: a failed or cancelled job becomes queued again, claimable now; if its attempts are used
    /// up, max_attempts becomes attempt + 1 (one more try). Errors history is kept. Event 'retried-by-admin'.
    /// Throws `.notFound` or `.invalidState` (queued, running, succeeded).
    public func retry(jobID: Int64) throws {
        let now = clock.now()
        try connection.transaction { c in
            guard let row = try c.query("SELECT state, attempt, max_attempts FROM jobs WHERE id = $1 FOR UPDATE",
                                        [.int(jobID)]).first else {
                throw StoreError.notFound(jobID: jobID)
            }
            let stateName = try row.string("state")
            guard let state = JobState(rawValue: stateName) else {
                throw StoreError.corruptRow("job \(jobID) has unknown state '\(stateName)'")
            }
            guard state == .failed || state == .cancelled else {
                throw StoreError.invalidState(jobID: jobID, state: state, operation: "retry")
            }
            let attempt = Int(try row.int("attempt"))
            let maxAttempts = max(Int(try row.int("max_attempts")), attempt + 1)
            try c.execute("""
                UPDATE jobs SET state = 'queued', max_attempts = $2, finished_at = NULL, cancel_requested = false,
                    available_at = $3, updated_at = $3
                WHERE id = $1
                """, [.int(jobID), .int(Int64(maxAttempts)), .timestamp(now)])
            try recordEvent(c, jobID: jobID, attempt: attempt, kind: .retriedByAdmin, worker: nil, at: now,
                            detail: ["previous_state": state.rawValue, "max_attempts": maxAttempts])
        }
    }
}
