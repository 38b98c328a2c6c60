import Synchronization

/// The latest preview of each running job, in memory only (never in PostgreSQL): the coordinator records
/// what its workers send (`Message.preview`), the HTTP API serves it to the status page and as
/// AUTOMATIC1111's `current_image`. One per job, at most `capacity` jobs (the oldest dropped first), and
/// removed when the job's attempt ends. Instance state of one coordinator process, behind a lock.
public final class LivePreviews: Sendable {
    /// One preview: a PNG of the latent after `step` of `steps` of an attempt.
    public struct Preview: Sendable, Equatable {
        public let jobID: Int64
        public let attempt: Int
        public let step: Int
        public let steps: Int
        public let png: [UInt8]
        /// Increases with every preview recorded (by any job): what `changed(since:)` compares.
        public let version: UInt64
    }

    /// The most jobs kept at once.
    public let capacity: Int
    private let state = Mutex<(version: UInt64, byJob: [Int64: Preview])>((0, [:]))

    public init(capacity: Int = 1024) {
        precondition(capacity >= 1, "capacity must be positive")
        self.capacity = capacity
    }

    /// Keeps this preview as the job's latest, unless the job already has one of a later attempt, or of a
    /// later step of the same attempt (frames may arrive late through a reconnect). Returns whether it was kept.
    @discardableResult
    public func record(jobID: Int64, attempt: Int, step: Int, steps: Int, png: [UInt8]) -> Bool {
        state.withLock { s in
            if let old = s.byJob[jobID], (old.attempt, old.step) > (attempt, step) { return false }
            s.version += 1
            s.byJob[jobID] = Preview(jobID: jobID, attempt: attempt, step: step, steps: steps, png: png, version: s.version)
            if s.byJob.count > capacity, let oldest = s.byJob.values.min(by: { $0.version < $1.version }) {
                s.byJob[oldest.jobID] = nil
            }
            return true
        }
    }

    /// Forgets the job's preview (its attempt ended: the result, or nothing, replaces it).
    public func remove(jobID: Int64) {
        state.withLock { _ = $0.byJob.removeValue(forKey: jobID) }
    }

    /// The job's latest preview, if any.
    public func latest(jobID: Int64) -> Preview? {
        state.withLock { $0.byJob[jobID] }
    }

    /// Every preview recorded after `version` (all of them for 0), oldest first.
    public func changed(since version: UInt64) -> [Preview] {
        state.withLock { s in s.byJob.values.filter { $0.version > version }.sorted { $0.version < $1.version } }
    }

    /// The version of the latest preview recorded (0 before any).
    public var version: UInt64 { state.withLock { $0.version } }
}
