/// The life cycle of a job: queued -> running -> succeeded | failed | cancelled (running -> queued on a
/// retry, a release or a rescue; failed/cancelled -> queued on an admin retry).
public enum JobState: String, Sendable, Codable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    /// True for succeeded, failed and cancelled.
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: return true
        case .queued, .running: return false
        }
    }
}
