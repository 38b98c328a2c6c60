import Foundation
import HiDiffPostgres

/// Read-only queries: jobs, events, results, queue statistics.
extension JobStore {
    /// The jobs with these ids that exist, ordered by id.
    public func jobs(ids: [Int64]) throws -> [JobRecord] {
        guard !ids.isEmpty else { return [] }
        return try connection.query("SELECT \(JobRecord.columns) FROM jobs WHERE id = ANY($1::text[]::bigint[]) ORDER BY id",
                                    [Self.idArray(ids)]).map(JobRecord.init(row:))
    }

    /// One job, or nil.
    public func job(id: Int64) throws -> JobRecord? {
        try jobs(ids: [id]).first
    }

    /// The jobs of a batch, ordered by id.
    public func jobs(batch: String) throws -> [JobRecord] {
        try connection.query("SELECT \(JobRecord.columns) FROM jobs WHERE batch = $1 ORDER BY id",
                             [.text(batch)]).map(JobRecord.init(row:))
    }

    /// The newest `limit` jobs (highest id first), of one state or of all.
    public func jobs(state: JobState?, limit: Int) throws -> [JobRecord] {
        try connection.query("""
            SELECT \(JobRecord.columns) FROM jobs WHERE ($1::text IS NULL OR state = $1::text) ORDER BY id DESC LIMIT $2
            """, [state.map { .text($0.rawValue) } ?? .null, .int(Int64(max(0, limit)))]).map(JobRecord.init(row:))
    }

    /// Jobs that finished after the watermark (finish time, then id), oldest first, at most `limit`: for
    /// following finishes without missing or repeating one (pass the last row's `finishedAt` and `id` back).
    public func jobsFinished(after time: Date, id: Int64, limit: Int) throws -> [JobRecord] {
        try connection.query("""
            SELECT \(JobRecord.columns) FROM jobs
            WHERE finished_at IS NOT NULL AND (finished_at, id) > ($1, $2)
            ORDER BY finished_at, id LIMIT $3
            """, [.timestamp(time), .int(id), .int(Int64(max(0, limit)))]).map(JobRecord.init(row:))
    }

    /// The history of a job, oldest first.
    public func events(jobID: Int64) throws -> [JobEvent] {
        try connection.query("""
            SELECT id, job_id, at, attempt, kind, worker, detail::text AS detail FROM job_events
            WHERE job_id = $1 ORDER BY id
            """, [.int(jobID)]).map(JobEvent.init(row:))
    }

    /// The result of a succeeded job, or nil.
    public func result(jobID: Int64) throws -> JobResult? {
        guard let row = try connection.query(
            "SELECT job_id, png, latents, metadata::text AS metadata FROM results WHERE job_id = $1", [.int(jobID)]).first
        else { return nil }
        return JobResult(jobID: try row.int("job_id"), png: try row.bytes("png"), latents: try row.bytes("latents"),
                         metadataJSON: try row.string("metadata"))
    }

    /// The latest checkpoint of a job, or nil.
    public func checkpoint(jobID: Int64) throws -> Checkpoint? {
        guard let row = try connection.query("SELECT job_id, attempt, step, state FROM checkpoints WHERE job_id = $1",
                                             [.int(jobID)]).first else { return nil }
        return Checkpoint(jobID: try row.int("job_id"), attempt: Int(try row.int("attempt")),
                          step: Int(try row.int("step")), state: try row.bytes("state"))
    }

    /// Counts by state, queue age, throughput windows and worker totals, relative to the store clock.
    public func queueStats() throws -> QueueStats {
        let now = clock.now()
        var counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, 0) })
        for row in try connection.query("SELECT state, count(*) AS n FROM jobs GROUP BY state") {
            counts[try row.string("state")] = Int(try row.int("n"))
        }
        guard let row = try connection.query("""
            SELECT
                (SELECT min(created_at) FROM jobs WHERE state = 'queued') AS oldest_queued,
                (SELECT count(*) FROM jobs WHERE state = 'queued' AND available_at <= $1) AS queued_available,
                (SELECT count(*) FROM jobs WHERE state = 'succeeded' AND finished_at > $2) AS completed_1m,
                (SELECT count(*) FROM jobs WHERE state = 'succeeded' AND finished_at > $3) AS completed_5m,
                (SELECT count(*) FROM jobs WHERE state = 'succeeded' AND finished_at > $4) AS completed_15m,
                (SELECT count(*) FROM jobs WHERE state = 'failed' AND finished_at > $4) AS failed_15m,
                (SELECT count(*) FROM jobs WHERE state = 'cancelled' AND finished_at > $4) AS cancelled_15m,
                (SELECT COALESCE(sum(steps_per_second), 0)::float8 FROM workers WHERE state <> 'offline') AS steps_per_second
            """, [.timestamp(now), .timestamp(now.addingTimeInterval(-60)), .timestamp(now.addingTimeInterval(-300)),
                  .timestamp(now.addingTimeInterval(-900))]).first
        else { throw StoreError.corruptRow("queue stats returned no row") }
        var workers = ["idle": 0, "busy": 0, "draining": 0, "offline": 0]
        for worker in try connection.query("SELECT state, count(*) AS n FROM workers GROUP BY state") {
            workers[try worker.string("state")] = Int(try worker.int("n"))
        }
        return QueueStats(
            countsByState: counts,
            oldestQueuedAge: try row.optionalDate("oldest_queued").map { now.timeIntervalSince($0) },
            queuedAvailable: Int(try row.int("queued_available")),
            completedLast1m: Int(try row.int("completed_1m")),
            completedLast5m: Int(try row.int("completed_5m")),
            completedLast15m: Int(try row.int("completed_15m")),
            failedLast15m: Int(try row.int("failed_15m")),
            cancelledLast15m: Int(try row.int("cancelled_15m")),
            workersByState: workers,
            stepsPerSecond: try row.double("steps_per_second"))
    }
}
