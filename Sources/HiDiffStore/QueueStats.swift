/// A snapshot of the queue for dashboards and the CLI (windows are relative to the store clock).
public struct QueueStats: Sendable, Codable {
    /// Jobs per state; every `JobState` is present (0 when none).
    public var countsByState: [String: Int]
    /// Seconds since the oldest queued job was submitted; nil when nothing is queued.
    public var oldestQueuedAge: Double?
    /// Queued jobs claimable now (past their backoff).
    public var queuedAvailable: Int
    /// Jobs that succeeded in the last 1, 5 and 15 minutes.
    public var completedLast1m: Int
    /// Succeeded in the last 5 minutes.
    public var completedLast5m: Int
    /// Succeeded in the last 15 minutes.
    public var completedLast15m: Int
    /// Jobs that failed for good in the last 15 minutes.
    public var failedLast15m: Int
    /// Jobs cancelled in the last 15 minutes.
    public var cancelledLast15m: Int
    /// Workers per state (idle, busy, draining, offline; 0 when none).
    public var workersByState: [String: Int]
    /// The sum of steps_per_second over workers that are not offline.
    public var stepsPerSecond: Double

    /// Creates a stats value.
    public init(countsByState: [String: Int], oldestQueuedAge: Double?, queuedAvailable: Int,
                completedLast1m: Int, completedLast5m: Int, completedLast15m: Int, failedLast15m: Int,
                cancelledLast15m: Int, workersByState: [String: Int], stepsPerSecond: Double) {
        self.countsByState = countsByState
        self.oldestQueuedAge = oldestQueuedAge
        self.queuedAvailable = queuedAvailable
        self.completedLast1m = completedLast1m
        self.completedLast5m = completedLast5m
        self.completedLast15m = completedLast15m
        self.failedLast15m = failedLast15m
        self.cancelledLast15m = cancelledLast15m
        self.workersByState = workersByState
        self.stepsPerSecond = stepsPerSecond
    }
}
