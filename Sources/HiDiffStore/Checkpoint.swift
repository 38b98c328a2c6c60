/// The latest saved state of a job (one per job, overwritten by each save).
public struct Checkpoint: Sendable {
    /// The job.
    public let jobID: Int64
    /// The attempt that saved it.
    public let attempt: Int
    /// The step the state resumes after.
    public let step: Int
    /// The opaque checkpoint bytes.
    public let state: [UInt8]

    /// Creates a checkpoint value.
    public init(jobID: Int64, attempt: Int, step: Int, state: [UInt8]) {
        self.jobID = jobID
        self.attempt = attempt
        self.step = step
        self.state = state
    }
}
