import Foundation
import HiDiffPostgres

/// The kinds of rows in job_events (the CHECK constraint in 0003_groups.sql lists the same names).
public enum JobEventKind: String, Sendable, Codable, CaseIterable {
    case submitted, claimed, checkpointed, succeeded, failed
    case retryScheduled = "retry-scheduled"
    case rescued
    case cancelRequested = "cancel-requested"
    case cancelled, released
    case retriedByAdmin = "retried-by-admin"
    case grouped
}

/// One append-only history entry of a job. Progress steps are not events (too many).
public struct JobEvent: Sendable, Codable {
    /// The event id (increasing).
    public var id: Int64
    /// The job.
    public var jobID: Int64
    /// The store clock's time of the transition.
    public var at: Date
    /// The job's attempt at the time (0 before the first claim).
    public var attempt: Int
    /// A `JobEventKind` raw value.
    public var kind: String
    /// The worker involved, if any.
    public var worker: String?
    /// Details as a JSON object (error text, delay, owner, ...).
    public var detail: String

    /// Creates an event value.
    public init(id: Int64, jobID: Int64, at: Date, attempt: Int, kind: String, worker: String?, detail: String) {
        self.id = id
        self.jobID = jobID
        self.at = at
        self.attempt = attempt
        self.kind = kind
        self.worker = worker
        self.detail = detail
    }

    init(row: PostgresRow) throws {
        self.init(id: try row.int("id"), jobID: try row.int("job_id"), at: try row.date("at"),
                  attempt: Int(try row.int("attempt")), kind: try row.string("kind"),
                  worker: try row.optionalString("worker"), detail: try row.string("detail"))
    }
}
