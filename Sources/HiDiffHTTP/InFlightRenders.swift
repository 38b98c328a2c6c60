import Synchronization

/// The AUTOMATIC1111 calls this server is waiting on, oldest first: what `/sdapi/v1/progress` reports and
/// `/sdapi/v1/interrupt` cancels. Instance state of one server, behind a lock.
final class InFlightRenders: Sendable {
    struct Render: Sendable {
        let token: Int
        let jobIDs: [Int64]
        let started: ContinuousClock.Instant
    }

    private let state = Mutex<(next: Int, renders: [Render])>((0, []))

    /// Registers a call's jobs; returns the token to `finish` it with.
    func start(_ jobIDs: [Int64]) -> Int {
        state.withLock { s in
            s.next += 1
            s.renders.append(Render(token: s.next, jobIDs: jobIDs, started: .now))
            return s.next
        }
    }

    func finish(_ token: Int) {
        state.withLock { $0.renders.removeAll { $0.token == token } }
    }

    /// Every call in flight, oldest first.
    var renders: [Render] { state.withLock { $0.renders } }
}
