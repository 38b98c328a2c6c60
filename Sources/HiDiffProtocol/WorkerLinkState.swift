/// The worker's status carried in its heartbeats.
public struct WorkerLinkState: Sendable, Equatable {
    /// The job being run, nil when idle.
    public var busyJobID: Int64?
    /// The attempt of that job.
    public var attempt: Int32?
    /// The last finished step.
    public var step: Int32?
    /// Recent speed; must be finite on the wire.
    public var stepsPerSecond: Double?
    /// True once the worker is draining (finishing its step and leaving).
    public var draining: Bool

    /// Memberwise; every field defaults to idle.
    public init(busyJobID: Int64? = nil, attempt: Int32? = nil, step: Int32? = nil, stepsPerSecond: Double? = nil,
                draining: Bool = false) {
        self.busyJobID = busyJobID
        self.attempt = attempt
        self.step = step
        self.stepsPerSecond = stepsPerSecond
        self.draining = draining
    }

    /// An idle, non-draining worker.
    public static let idle = WorkerLinkState()
}
