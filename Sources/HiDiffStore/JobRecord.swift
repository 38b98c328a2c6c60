import Foundation
import HiDiffPostgres

/// A job as stored, for status queries and the admin CLI.
public struct JobRecord: Sendable, Codable {
    /// The job id (bigserial; ids grow with submission order).
    public var id: Int64
    /// The batch it was submitted in, if any.
    public var batch: String?
    /// The model it needs.
    public var model: String
    /// The request JSON (normalised by jsonb).
    public var requestJSON: String
    /// The life-cycle state.
    public var state: JobState
    /// The last reported step (reset to the checkpoint's step at each claim).
    public var step: Int
    /// Total steps.
    public var steps: Int
    /// Claims so far (the current or last attempt number).
    public var attempt: Int
    /// The attempt budget (grows by one on each release and, when exhausted, on an admin retry).
    public var maxAttempts: Int
    /// Higher runs first.
    public var priority: Int
    /// The workers running (or that last ran) the job.
    public var workers: [String]
    /// The lease owner while running.
    public var leaseOwner: String?
    /// The last error (kept when the job failed; cleared on success).
    public var error: String?
    /// Submission time.
    public var createdAt: Date
    /// The start of the latest attempt.
    public var startedAt: Date?
    /// Set exactly in the terminal states.
    public var finishedAt: Date?
    /// A cancel was requested while it ran.
    public var cancelRequested: Bool
    /// One error per failed attempt, oldest first.
    public var errors: [String]
    /// When a queued job becomes claimable (retry backoff).
    public var availableAt: Date
    /// When the lease expires while running.
    public var leaseExpiresAt: Date?
    /// The last change (store clock).
    public var updatedAt: Date

    /// The SELECT list `init(row:)` reads, over `jobs`.
    static let columns = """
        id, batch, model, request::text AS request, state, step, steps, attempt, max_attempts, priority, workers,
        lease_owner, lease_expires_at, error, created_at, started_at, finished_at, updated_at, available_at,
        cancel_requested, ARRAY(SELECT e->>'error' FROM jsonb_array_elements(errors) AS e) AS error_list
        """

    /// Decodes a row selected with `columns`.
    init(row: PostgresRow) throws {
        id = try row.int("id")
        batch = try row.optionalString("batch")
        model = try row.string("model")
        requestJSON = try row.string("request")
        let stateName = try row.string("state")
        guard let state = JobState(rawValue: stateName) else {
            throw StoreError.corruptRow("job \(id) has unknown state '\(stateName)'")
        }
        self.state = state
        step = Int(try row.int("step"))
        steps = Int(try row.int("steps"))
        attempt = Int(try row.int("attempt"))
        maxAttempts = Int(try row.int("max_attempts"))
        priority = Int(try row.int("priority"))
        workers = try row.stringArray("workers")
        leaseOwner = try row.optionalString("lease_owner")
        leaseExpiresAt = try row.optionalDate("lease_expires_at")
        error = try row.optionalString("error")
        createdAt = try row.date("created_at")
        startedAt = try row.optionalDate("started_at")
        finishedAt = try row.optionalDate("finished_at")
        updatedAt = try row.date("updated_at")
        availableAt = try row.date("available_at")
        cancelRequested = try row.bool("cancel_requested")
        errors = try row.stringArray("error_list")
    }
}
