/// A job handed to a worker in `assign`.
public struct Assignment: Sendable, Equatable {
    /// The job's id in the store.
    public var jobID: Int64
    /// The attempt number (fencing: messages for an older attempt are stale).
    public var attempt: Int32
    /// The model name to run.
    public var model: String
    /// The generation request as JSON.
    public var requestJSON: String
    /// The img2img source image (PNG), if any.
    public var initImage: [UInt8]?
    /// A checkpoint to resume from, if any.
    public var checkpoint: [UInt8]?
    /// The step the checkpoint was taken after.
    public var checkpointStep: Int32?
    /// Send a checkpoint every this many steps (0: never).
    public var checkpointEvery: Int32
    /// Set when the job is sharded across a group of workers: this worker's rank and its peers.
    public var group: GroupAssignment?

    /// Memberwise; optional parts default to nil, `checkpointEvery` to 0 (never).
    public init(jobID: Int64, attempt: Int32, model: String, requestJSON: String, initImage: [UInt8]? = nil,
                checkpoint: [UInt8]? = nil, checkpointStep: Int32? = nil, checkpointEvery: Int32 = 0,
                group: GroupAssignment? = nil) {
        self.group = group
        self.jobID = jobID
        self.attempt = attempt
        self.model = model
        self.requestJSON = requestJSON
        self.initImage = initImage
        self.checkpoint = checkpoint
        self.checkpointStep = checkpointStep
        self.checkpointEvery = checkpointEvery
    }
}
