import Foundation
import HiDiffPostgres

/// The job queue in PostgreSQL: submit, claim with `FOR UPDATE SKIP LOCKED`, leases fenced by
/// (job, attempt, owner), progress, checkpoints, results, retries with backoff, rescue of expired leases,
/// cancellation, workers and admin queries.
///
/// All methods are synchronous and run on the connection's queue (each multi-statement change in one
/// transaction); from async code call them through `connection.run { _ in try store.claim(...) }` or on a
/// thread of your own. Every timestamp comes from `clock`. Database failures surface as `PostgresError`
/// (check `isConnectionLoss` to retry); domain failures as `StoreError`.
///
/// NOTIFY (sent by triggers, delivered at commit): `hidiff_jobs` with the job id whenever a job becomes
/// queued (submit, retry, release, rescue, admin retry) — a retry's backoff may make it unclaimable for a
/// while, so claimers should also poll on a timer; `hidiff_job_events` with the job id on every change of
/// state, step or cancel request.
public final class JobStore: @unchecked Sendable {
    /// The connection every call uses.
    public let connection: PostgresConnection
    /// The store's time source.
    public let clock: any StoreClock
    /// Backoff for retryable failures.
    public let retry: RetryPolicy

    /// The NOTIFY channel for newly queued jobs.
    public static let jobsChannel = "hidiff_jobs"
    /// The NOTIFY channel for job state/step changes.
    public static let jobEventsChannel = "hidiff_job_events"

    /// A store over `connection` (the schema must be migrated: see `Migrator`).
    public init(connection: PostgresConnection, clock: any StoreClock = SystemClock(), retry: RetryPolicy = .init()) {
        self.connection = connection
        self.clock = clock
        self.retry = retry
    }

    /// Inserts `jobs` (all or nothing) and returns their ids in input order; creates the batch row if
    /// missing. A job the schema refuses (steps < 1, invalid JSON, unknown batch name...) throws
    /// `StoreError.invalid` naming its position, and nothing is inserted. Notifies `hidiff_jobs`.
    public func submit(_ jobs: [NewJob], batch: String?) throws -> [Int64] {
        guard !jobs.isEmpty else { return [] }
        let now = clock.now()
        return try connection.transaction { c in
            if let batch {
                try invalidIfRejected("batch '\(batch)'") {
                    try c.execute("INSERT INTO batches (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                                  [.text(batch), .timestamp(now)])
                }
            }
            var ids: [Int64] = []
            ids.reserveCapacity(jobs.count)
            for (i, job) in jobs.enumerated() {
                let rows = try invalidIfRejected("job \(i + 1) of \(jobs.count) (model \(job.model))") {
                    try c.query("""
                        WITH inserted AS (
                            INSERT INTO jobs (batch, model, request, init_image, priority, max_attempts, steps,
                                              available_at, created_at, updated_at, group_size)
                            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $10)
                            RETURNING id
                        )
                        INSERT INTO job_events (job_id, at, attempt, kind, worker, detail)
                        SELECT id, $8, 0, 'submitted', NULL, $9 FROM inserted
                        RETURNING job_id
                        """, [batch.map(PostgresValue.text) ?? .null, .text(job.model), .json(job.requestJSON),
                              job.initImage.map(PostgresValue.bytes) ?? .null, .int(Int64(job.priority)),
                              .int(Int64(job.maxAttempts)), .int(Int64(job.steps)), .timestamp(now),
                              .json(Self.json(["batch": batch, "priority": job.priority, "group_size": job.groupSize])),
                              job.groupSize.map { .int(Int64($0)) } ?? .null])
                }
                guard let row = rows.first else { throw StoreError.corruptRow("insert returned no id") }
                ids.append(try row.int("job_id"))
            }
            return ids
        }
    }

    /// Claims up to `limit` queued jobs whose model is in `models` and whose `available_at` has passed,
    /// highest priority first, then oldest (id), skipping rows other claimers hold (`FOR UPDATE SKIP
    /// LOCKED`). Each becomes running with attempt + 1, owner `owner`, lease until now + `lease` seconds,
    /// workers = [worker], step = its checkpoint's step (or 0); event 'claimed'. Returned in claim order.
    public func claim(owner: String, worker: String, models: [String], limit: Int, lease: Double,
                      capacity: [String: Int] = [:]) throws -> [ClaimedJob] {
        guard limit > 0, !models.isEmpty else { return [] }
        // Jobs whose group is larger than the free workers for their model wait (1 when not given).
        let capacities = models.map { Int64(capacity[$0] ?? 1) }
        guard !owner.isEmpty else { throw StoreError.invalid("claim: owner must not be empty") }
        guard lease > 0 else { throw StoreError.invalid("claim: lease must be positive seconds, got \(lease)") }
        let now = clock.now()
        let expires = now.addingTimeInterval(lease)
        return try connection.transaction { c in
            let rows = try c.query("""
                WITH picked AS (
                    SELECT id FROM jobs
                    WHERE state = 'queued' AND available_at <= $1 AND model = ANY($2)
                      AND COALESCE(group_size, 1) <= (SELECT cap.n FROM unnest($2::text[], $7::text[]::bigint[]) AS cap(model, n)
                                                      WHERE cap.model = jobs.model LIMIT 1)
                    ORDER BY priority DESC, id
                    LIMIT $3
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE jobs AS j
                SET state = 'running', attempt = j.attempt + 1, lease_owner = $4, lease_expires_at = $5,
                    started_at = $1, workers = ARRAY[$6::text], updated_at = $1,
                    step = COALESCE((SELECT cp.step FROM checkpoints AS cp WHERE cp.job_id = j.id), 0)
                FROM picked
                WHERE j.id = picked.id AND j.state = 'queued'
                RETURNING j.id, j.attempt, j.model, j.request::text AS request, j.steps, j.init_image,
                          j.max_attempts, j.priority, j.step, j.group_size
                """, [.timestamp(now), .textArray(models), .int(Int64(limit)), .text(owner), .timestamp(expires),
                      .text(worker), Self.idArray(capacities)])
            let ids = try rows.map { try $0.int("id") }
            var checkpoints: [Int64: Checkpoint] = [:]
            if !ids.isEmpty {
                for row in try c.query("SELECT job_id, attempt, step, state FROM checkpoints WHERE job_id = ANY($1::text[]::bigint[])",
                                       [Self.idArray(ids)]) {
                    let checkpoint = Checkpoint(jobID: try row.int("job_id"), attempt: Int(try row.int("attempt")),
                                                step: Int(try row.int("step")), state: try row.bytes("state"))
                    checkpoints[checkpoint.jobID] = checkpoint
                }
            }
            var claimed: [ClaimedJob] = []
            for row in rows {
                let id = try row.int("id")
                let lease = Lease(jobID: id, attempt: Int(try row.int("attempt")), owner: owner)
                try recordEvent(c, jobID: id, attempt: lease.attempt, kind: .claimed, worker: worker, at: now,
                                detail: ["owner": owner, "lease_expires_at": Self.iso(expires),
                                         "resume_step": Int(try row.int("step"))])
                claimed.append(ClaimedJob(lease: lease, model: try row.string("model"),
                                          requestJSON: try row.string("request"), steps: Int(try row.int("steps")),
                                          initImage: try row.optionalBytes("init_image"), checkpoint: checkpoints[id],
                                          maxAttempts: Int(try row.int("max_attempts")),
                                          priority: Int(try row.int("priority")),
                                          groupSize: try row.optionalInt("group_size").map { Int($0) }))
            }
            return claimed.sorted { ($0.priority, -$0.lease.jobID) > ($1.priority, -$1.lease.jobID) }
        }
    }

    /// Runs store calls from async code on the connection's own queue, so no cooperative-pool (or event
    /// loop) thread blocks on libpq: `let jobs = try await store.run { try $0.claim(...) }`.
    public func run<T: Sendable>(_ body: @escaping @Sendable (JobStore) throws -> T) async throws -> T {
        try await connection.run { _ in try body(self) }
    }

    // MARK: - Helpers shared by the extensions

    /// The fencing condition on `jobs`, with the lease as parameters $1, $2, $3.
    static let fence = "id = $1 AND attempt = $2 AND lease_owner = $3 AND state = 'running'"

    /// The lease as the first three parameters of a fenced statement.
    static func fenceParameters(_ lease: Lease) -> [PostgresValue] {
        [.int(lease.jobID), .int(Int64(lease.attempt)), .text(lease.owner)]
    }

    /// Locks the job row if `lease` still holds it (inside a transaction); throws `.leaseLost` otherwise.
    func lockFenced(_ c: PostgresConnection, _ lease: Lease) throws -> PostgresRow {
        let rows = try c.query("""
            SELECT attempt, max_attempts, steps, cancel_requested, workers[1] AS worker
            FROM jobs WHERE \(Self.fence) FOR UPDATE
            """, Self.fenceParameters(lease))
        guard let row = rows.first else { throw StoreError.leaseLost(lease) }
        return row
    }

    /// A fenced UPDATE (`SET` clause given; parameters after the three fence ones); `.leaseLost` when no row.
    func updateFenced(_ c: PostgresConnection, _ lease: Lease, set: String, _ params: [PostgresValue]) throws {
        let affected = try c.execute("UPDATE jobs SET \(set) WHERE \(Self.fence)", Self.fenceParameters(lease) + params)
        guard affected == 1 else { throw StoreError.leaseLost(lease) }
    }

    /// Appends a job_events row.
    func recordEvent(_ c: PostgresConnection, jobID: Int64, attempt: Int, kind: JobEventKind, worker: String?,
                     at: Date, detail: [String: Any?] = [:]) throws {
        try c.execute("INSERT INTO job_events (job_id, at, attempt, kind, worker, detail) VALUES ($1, $2, $3, $4, $5, $6)",
                      [.int(jobID), .timestamp(at), .int(Int64(attempt)), .text(kind.rawValue),
                       worker.map(PostgresValue.text) ?? .null, .json(Self.json(detail))])
    }

    /// Runs `body`, turning data and constraint errors (SQLSTATE classes 22 and 23) into `.invalid`.
    @discardableResult
    func invalidIfRejected<T>(_ context: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError {
            guard let state = error.sqlState, state.hasPrefix("22") || state.hasPrefix("23") else { throw error }
            let constraint = error.constraint.map { " (constraint \($0))" } ?? ""
            throw StoreError.invalid("\(context): \(error.message)\(constraint)")
        }
    }

    /// A compact JSON object of the non-nil values (sorted keys).
    static func json(_ object: [String: Any?]) -> String {
        let values = object.compactMapValues { $0 }
        guard let data = try? JSONSerialization.data(withJSONObject: values, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// ISO 8601 with milliseconds, UTC.
    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// Job ids as a text[] parameter (cast with `$n::text[]::bigint[]`).
    static func idArray(_ ids: [Int64]) -> PostgresValue {
        .textArray(ids.map { String($0) })
    }
}
