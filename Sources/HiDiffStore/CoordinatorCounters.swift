import Synchronization

/// What one coordinator process counts for `/metrics` that the store cannot tell: worker connections it
/// closed before they registered (a wrong token, a TLS failure, a malformed handshake, a silent peer), and
/// the time it spends recording each denoising step a worker reports (its step overhead: the database write
/// a progress message costs). The coordinator adds; the HTTP server in the same process takes what was added
/// since its last scrape. Instance state behind a lock, like `LivePreviews`.
public final class CoordinatorCounters: Sendable {
    /// Step timings kept between two scrapes at most; more are counted in `droppedSteps` instead.
    public static let pendingLimit = 4096

    /// What was counted since the last `take()`.
    public struct Counts: Sendable, Equatable {
        public var rejectedConnections = 0
        public var stepSeconds: [Double] = []
        public var droppedSteps = 0

        public init(rejectedConnections: Int = 0, stepSeconds: [Double] = [], droppedSteps: Int = 0) {
            self.rejectedConnections = rejectedConnections
            self.stepSeconds = stepSeconds
            self.droppedSteps = droppedSteps
        }
    }

    private let state = Mutex(Counts())

    public init() {}

    /// A connection closed before it registered.
    public func rejectedConnection() {
        state.withLock { $0.rejectedConnections += 1 }
    }

    /// The coordinator spent `seconds` recording one reported step.
    public func recordedStep(seconds: Double) {
        state.withLock { s in
            if s.stepSeconds.count < Self.pendingLimit { s.stepSeconds.append(seconds) } else { s.droppedSteps += 1 }
        }
    }

    /// Everything counted since the last call, and starts counting afresh.
    public func take() -> Counts {
        state.withLock { s in
            defer { s = Counts() }
            return s
        }
    }
}
