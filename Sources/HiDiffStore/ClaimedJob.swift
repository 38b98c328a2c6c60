/// A job handed out by `JobStore.claim`, with its lease and the checkpoint to resume from (if any).
public struct ClaimedJob: Sendable {
    /// The lease fencing every later change.
    public let lease: Lease
    /// The model.
    public let model: String
    /// The request JSON (normalised by jsonb).
    public let requestJSON: String
    /// Total steps.
    public let steps: Int
    /// The img2img input, if any.
    public let initImage: [UInt8]?
    /// The latest checkpoint of an earlier attempt; the job's step was reset to its step (else 0).
    public let checkpoint: Checkpoint?
    /// The attempt budget (the lease's attempt is at most this).
    public let maxAttempts: Int
    /// The job's priority.
    public let priority: Int
    /// Workers that render it together as submitted; nil: the coordinator chooses (one, unless the job's
    /// estimated memory needs more).
    public let groupSize: Int?

    /// Creates a claimed-job value.
    public init(lease: Lease, model: String, requestJSON: String, steps: Int, initImage: [UInt8]?,
                checkpoint: Checkpoint?, maxAttempts: Int, priority: Int = 0, groupSize: Int? = nil) {
        self.groupSize = groupSize
        self.lease = lease
        self.model = model
        self.requestJSON = requestJSON
        self.steps = steps
        self.initImage = initImage
        self.checkpoint = checkpoint
        self.maxAttempts = maxAttempts
        self.priority = priority
    }
}
