/// The worker's side of one coordinator connection, as a pure state machine: feed it what arrived, the time, and
/// what the application wants to send; perform the returned actions in order. No clocks, no sockets.
///
/// `start()` sends hello; a challenge whose proof verifies is answered with our proof (a wrong one closes the link
/// with `authenticationFailed` and our proof is never sent); welcome yields `.authenticated`, after which the
/// application sends `register` through `send(_:)`, coordinator messages come out as `.deliver`, and `tick` sends
/// heartbeats carrying `heartbeatState` and closes the link after `deadAfterIntervals` silent intervals.
/// Every close the link decides on is `[.send(.goodbye(reason)), .close(reason: reason)]`; afterwards it is inert.
public struct WorkerLink: Sendable {
    /// What the caller must do, in order.
    public enum Action: Sendable, Equatable {
        /// Write this message to the coordinator.
        case send(Message)
        /// Close the connection; `reason` is for the log.
        case close(reason: String)
        /// The coordinator proved it holds the token and welcomed us: send `register` now.
        case authenticated(coordinator: String, heartbeatSeconds: Double)
        /// A post-welcome coordinator message (assign, cancel, drain, heartbeat).
        case deliver(Message)
    }

    private enum Phase: Sendable, Equatable {
        case idle
        case awaitingChallenge
        case awaitingWelcome
        case authenticated(coordinator: String, heartbeatSeconds: Double)
        case closed

        var label: String {
            switch self {
            case .idle: return "not started"
            case .awaitingChallenge: return "awaiting challenge"
            case .awaitingWelcome: return "awaiting welcome"
            case .authenticated: return "authenticated"
            case .closed: return "closed"
            }
        }
    }

    /// The name sent in hello and bound into both proofs; use the same name in `register`.
    public let workerName: String
    private let token: [UInt8]
    private let nonce: [UInt8]
    /// Seconds from `init` to welcome before the link is closed.
    public let handshakeTimeout: Double
    /// Silent heartbeat intervals after which an authenticated link is dead.
    public let deadAfterIntervals: Double

    private var phase: Phase = .idle
    private let openedAt: Double
    private var lastHeard: Double
    private var nextHeartbeat: Double = .infinity

    /// What the next heartbeats report; the application keeps it current.
    public var heartbeatState: WorkerLinkState = .idle

    /// The error that closed the link, if it was closed for a protocol violation or a timeout.
    public private(set) var failure: ProtocolError?

    /// - Parameters:
    ///   - nonce: 32 fresh random bytes for this connection (`TokenAuth.makeNonce()`); never reuse one.
    ///   - now: the caller's monotonic clock, in seconds; every later `now` must come from the same clock.
    public init(workerName: String, token: [UInt8], now: Double, nonce: [UInt8], handshakeTimeout: Double = 10,
                deadAfterIntervals: Double = 3) {
        self.workerName = workerName
        self.token = token
        self.nonce = nonce
        self.handshakeTimeout = handshakeTimeout
        self.deadAfterIntervals = deadAfterIntervals
        self.openedAt = now
        self.lastHeard = now
    }

    /// True between welcome and close.
    public var isAuthenticated: Bool {
        if case .authenticated = phase { return true }
        return false
    }

    /// True after the link returned `.close`.
    public var isClosed: Bool { phase == .closed }

    /// The coordinator's name and heartbeat interval from its welcome (nil before and after close).
    public var coordinator: (name: String, heartbeatSeconds: Double)? {
        if case .authenticated(let name, let seconds) = phase { return (name, seconds) }
        return nil
    }

    /// `[.send(.hello(...))]` the first time; [] afterwards.
    public mutating func start() -> [Action] {
        guard phase == .idle else { return [] }
        if nonce.count != TokenAuth.nonceSize {
            return fail(.invalidField(name: "worker nonce", reason: "must be \(TokenAuth.nonceSize) bytes"))
        }
        phase = .awaitingChallenge
        return [.send(.hello(version: UInt16(FrameCodec.protocolVersion), name: workerName, nonce: nonce))]
    }

    /// A message from the coordinator arrived at `now`.
    public mutating func received(_ m: Message, now: Double) -> [Action] {
        guard phase != .closed else { return [] }
        lastHeard = now
        if case .goodbye(let reason) = m {
            phase = .closed
            return [.close(reason: "coordinator said goodbye: \(reason)")]
        }
        switch (phase, m) {
        case (.awaitingChallenge, .challenge(let coordinatorNonce, let proof)):
            if coordinatorNonce.count != TokenAuth.nonceSize {
                return fail(.invalidField(name: "challenge.nonce", reason: "must be \(TokenAuth.nonceSize) bytes"))
            }
            let expected = TokenAuth.proof(token: token, role: "coordinator", name: workerName, workerNonce: nonce,
                                           coordinatorNonce: coordinatorNonce)
            // Verify the coordinator first: an impostor must not get a worker proof out of us.
            guard TokenAuth.constantTimeEqual(proof, expected) else { return fail(.authenticationFailed) }
            phase = .awaitingWelcome
            return [.send(.proof(proof: TokenAuth.proof(token: token, role: "worker", name: workerName,
                                                        workerNonce: nonce, coordinatorNonce: coordinatorNonce)))]

        case (.awaitingWelcome, .welcome(let coordinator, let heartbeatSeconds)):
            guard heartbeatSeconds.isFinite, heartbeatSeconds > 0 else {
                return fail(.invalidField(name: "welcome.heartbeatSeconds", reason: "must be positive and finite"))
            }
            phase = .authenticated(coordinator: coordinator, heartbeatSeconds: heartbeatSeconds)
            nextHeartbeat = now + heartbeatSeconds
            return [.authenticated(coordinator: coordinator, heartbeatSeconds: heartbeatSeconds)]

        case (.authenticated, .assign), (.authenticated, .cancel), (.authenticated, .drain),
             (.authenticated, .heartbeat):
            return [.deliver(m)]

        default:
            return fail(.unexpected(message: m.type.description, state: phase.label))
        }
    }

    /// Time passed: enforces the handshake timeout, sends due heartbeats and detects a dead link.
    /// Call it regularly (well under the heartbeat interval, e.g. every 0.5 s).
    public mutating func tick(now: Double) -> [Action] {
        switch phase {
        case .closed:
            return []
        case .idle, .awaitingChallenge, .awaitingWelcome:
            guard now - openedAt >= handshakeTimeout else { return [] }
            return fail(.timeout(what: "handshake not completed within \(handshakeTimeout) s (\(phase.label))"))
        case .authenticated(_, let interval):
            if now - lastHeard >= deadAfterIntervals * interval {
                return fail(.timeout(what: "no message from the coordinator for \(now - lastHeard) s"))
            }
            guard now >= nextHeartbeat else { return [] }
            nextHeartbeat = now + interval
            return [.send(.heartbeat(state: heartbeatState))]
        }
    }

    /// The application wants `m` on the wire. Returns `[.send(m)]` for register, heartbeat, accepted, progress, preview,
    /// checkpoint, result and failed once authenticated; `[.send(.goodbye), .close]` for a goodbye (any time);
    /// otherwise `[]`, meaning nothing was sent (not authenticated, closed, or not a worker-to-coordinator message).
    public mutating func send(_ m: Message) -> [Action] {
        guard phase != .closed else { return [] }
        if case .goodbye(let reason) = m { return close(reason: reason) }
        guard isAuthenticated else { return [] }
        switch m {
        case .register, .heartbeat, .accepted, .progress, .preview, .checkpoint, .result, .failed, .memberDone:
            return [.send(m)]
        default:
            return []
        }
    }

    /// The application ends the link: `[.send(.goodbye(reason)), .close(reason:)]`, or [] when already closed.
    public mutating func close(reason: String) -> [Action] {
        guard phase != .closed else { return [] }
        phase = .closed
        return [.send(.goodbye(reason: reason)), .close(reason: reason)]
    }

    private mutating func fail(_ error: ProtocolError) -> [Action] {
        phase = .closed
        failure = error
        return [.send(.goodbye(reason: error.description)), .close(reason: error.description)]
    }
}
