/// The coordinator's side of one worker connection, as a pure state machine: feed it what arrived, the time, and
/// what the application wants to send; perform the returned actions in order. No clocks, no sockets.
///
/// Handshake: hello -> (challenge) -> proof -> (welcome) -> register, then `.registered(info)` and the link is
/// live: worker messages come out as `.deliver`, `send(_:)` lets assign/cancel/drain out, `tick` sends heartbeats
/// every `heartbeatSeconds` and closes the link when nothing was heard for `deadAfter` seconds. Anything out of
/// order, a failed proof or a handshake that takes longer than `handshakeTimeout` yields
/// `[.send(.goodbye(reason)), .close(reason: reason)]`; after a `.close` the link is inert (every call returns []).
public struct CoordinatorLink: Sendable {
    /// What the caller must do, in order.
    public enum Action: Sendable, Equatable {
        /// Write this message to the worker.
        case send(Message)
        /// Close the connection; `reason` is for the log.
        case close(reason: String)
        /// The worker authenticated and registered.
        case registered(WorkerInfo)
        /// A post-registration worker message (heartbeat, accepted, progress, preview, checkpoint, result, failed).
        case deliver(Message)
    }

    private enum Phase: Sendable, Equatable {
        case awaitingHello
        case awaitingProof(workerName: String, workerNonce: [UInt8])
        case awaitingRegister(workerName: String)
        case registered(WorkerInfo)
        case closed

        var label: String {
            switch self {
            case .awaitingHello: return "awaiting hello"
            case .awaitingProof: return "awaiting proof"
            case .awaitingRegister: return "awaiting register"
            case .registered: return "registered"
            case .closed: return "closed"
            }
        }
    }

    private let coordinatorName: String
    private let token: [UInt8]
    private let nonce: [UInt8]
    /// Heartbeat interval announced in welcome and used for our own heartbeats.
    public let heartbeatSeconds: Double
    /// Silence (seconds without any message from the worker) after which a registered link is dead.
    public let deadAfter: Double
    /// Seconds from `init` to registration before the link is closed.
    public let handshakeTimeout: Double

    private var phase: Phase = .awaitingHello
    private let openedAt: Double
    private var lastHeard: Double
    private var nextHeartbeat: Double = .infinity

    /// The error that closed the link, if it was closed for a protocol violation or a timeout (nil while open,
    /// after a goodbye from the worker, or after `close(reason:)`).
    public private(set) var failure: ProtocolError?

    /// - Parameters:
    ///   - nonce: 32 fresh random bytes for this connection (`TokenAuth.makeNonce()`); never reuse one.
    ///   - now: the caller's monotonic clock, in seconds; every later `now` must come from the same clock.
    public init(coordinatorName: String, token: [UInt8], heartbeatSeconds: Double, deadAfter: Double, now: Double,
                nonce: [UInt8], handshakeTimeout: Double = 10) {
        self.coordinatorName = coordinatorName
        self.token = token
        self.heartbeatSeconds = heartbeatSeconds
        self.deadAfter = deadAfter
        self.handshakeTimeout = handshakeTimeout
        self.nonce = nonce
        self.openedAt = now
        self.lastHeard = now
    }

    /// True once the worker has registered and until the link closes.
    public var isRegistered: Bool {
        if case .registered = phase { return true }
        return false
    }

    /// True after the link returned `.close`.
    public var isClosed: Bool { phase == .closed }

    /// The registered worker's description (nil before registration and after close).
    public var worker: WorkerInfo? {
        if case .registered(let info) = phase { return info }
        return nil
    }

    /// The worker's name from its hello (nil before the hello and after close).
    public var workerName: String? {
        switch phase {
        case .awaitingProof(let name, _), .awaitingRegister(let name): return name
        case .registered(let info): return info.name
        case .awaitingHello, .closed: return nil
        }
    }

    /// A message from the worker arrived at `now`.
    public mutating func received(_ m: Message, now: Double) -> [Action] {
        guard phase != .closed else { return [] }
        lastHeard = now
        if case .goodbye(let reason) = m {
            phase = .closed
            return [.close(reason: "worker said goodbye: \(reason)")]
        }
        switch (phase, m) {
        case (.awaitingHello, .hello(let version, let name, let workerNonce)):
            if version != UInt16(FrameCodec.protocolVersion) {
                return fail(.invalidField(name: "hello.version", reason: "worker speaks version \(version), "
                                          + "this coordinator \(FrameCodec.protocolVersion)"))
            }
            if name.isEmpty { return fail(.invalidField(name: "hello.name", reason: "empty")) }
            if workerNonce.count != TokenAuth.nonceSize {
                return fail(.invalidField(name: "hello.nonce", reason: "must be \(TokenAuth.nonceSize) bytes"))
            }
            if nonce.count != TokenAuth.nonceSize {
                return fail(.invalidField(name: "coordinator nonce", reason: "must be \(TokenAuth.nonceSize) bytes"))
            }
            let proof = TokenAuth.proof(token: token, role: "coordinator", name: name, workerNonce: workerNonce,
                                        coordinatorNonce: nonce)
            phase = .awaitingProof(workerName: name, workerNonce: workerNonce)
            return [.send(.challenge(nonce: nonce, proof: proof))]

        case (.awaitingProof(let name, let workerNonce), .proof(let proof)):
            let expected = TokenAuth.proof(token: token, role: "worker", name: name, workerNonce: workerNonce,
                                           coordinatorNonce: nonce)
            guard TokenAuth.constantTimeEqual(proof, expected) else { return fail(.authenticationFailed) }
            phase = .awaitingRegister(workerName: name)
            return [.send(.welcome(coordinator: coordinatorName, heartbeatSeconds: heartbeatSeconds))]

        case (.awaitingRegister, .heartbeat):
            // A worker may start its heartbeats as soon as it is welcomed; they only prove liveness here.
            return []

        case (.awaitingRegister(let name), .register(let info)):
            if info.name != name {
                return fail(.invalidField(name: "register.name", reason: "\(info.name) differs from hello name \(name)"))
            }
            phase = .registered(info)
            nextHeartbeat = now + heartbeatSeconds
            return [.registered(info)]

        case (.registered, .heartbeat), (.registered, .accepted), (.registered, .progress),
             (.registered, .checkpoint), (.registered, .result), (.registered, .failed), (.registered, .memberDone), (.registered, .preview):
            return [.deliver(m)]

        default:
            return fail(.unexpected(message: m.type.description, state: phase.label))
        }
    }

    /// Time passed: enforces the handshake timeout, sends due heartbeats and detects a dead link.
    /// Call it regularly (well under `heartbeatSeconds`, e.g. every 0.5 s).
    public mutating func tick(now: Double) -> [Action] {
        switch phase {
        case .closed:
            return []
        case .awaitingHello, .awaitingProof, .awaitingRegister:
            guard now - openedAt >= handshakeTimeout else { return [] }
            return fail(.timeout(what: "handshake not completed within \(handshakeTimeout) s (\(phase.label))"))
        case .registered:
            if now - lastHeard >= deadAfter {
                return fail(.timeout(what: "no message from the worker for \(now - lastHeard) s"))
            }
            guard now >= nextHeartbeat else { return [] }
            nextHeartbeat = now + heartbeatSeconds
            return [.send(.heartbeat(state: nil))]
        }
    }

    /// The application wants `m` on the wire. Returns `[.send(m)]` for assign, cancel, drain and heartbeat once
    /// registered; `[.send(.goodbye), .close]` for a goodbye (any time; see `close(reason:)`); otherwise `[]`,
    /// meaning nothing was sent (not registered yet, link closed, or not a coordinator-to-worker message).
    public mutating func send(_ m: Message) -> [Action] {
        guard phase != .closed else { return [] }
        if case .goodbye(let reason) = m { return close(reason: reason) }
        guard isRegistered else { return [] }
        switch m {
        case .assign, .cancel, .drain, .heartbeat:
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
