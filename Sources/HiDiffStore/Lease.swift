/// The right to change a running job: valid while the job row still has this attempt and owner and is
/// running. Every state change after the claim is conditioned on it; a stale lease gets `StoreError.leaseLost`.
public struct Lease: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The job.
    public let jobID: Int64
    /// The attempt number the claim gave the job (1 for the first claim; strictly increasing).
    public let attempt: Int
    /// Who claimed it (e.g. the coordinator instance).
    public let owner: String

    /// Creates a lease value (e.g. from a wire message).
    public init(jobID: Int64, attempt: Int, owner: String) {
        self.jobID = jobID
        self.attempt = attempt
        self.owner = owner
    }

    /// `job 12 attempt 2 (owner coord-a)`.
    public var description: String { "job \(jobID) attempt \(attempt) (owner \(owner))" }
}
