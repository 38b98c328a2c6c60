/// The dialing side of a peer link's handshake, as a pure state machine: feed it what arrived and the time;
/// perform the returned actions in order. No clocks, no sockets.
///
/// `start()` sends the hello; a challenge whose proof verifies (role `PeerHello.acceptorRole`, bound to the
/// hello) is answered with our proof, so an acceptor without the token never gets a proof out of us (a wrong one
/// closes with `authenticationFailed`); the welcome yields `.established`, after which the link carries data and
/// this machine is inert. A goodbye before the welcome is a refusal (`refusal` holds its reason): the acceptor
/// does not (yet) expect this link, and the caller may dial again.
public struct PeerDialerHandshake: Sendable {
    /// What the caller must do, in order.
    public enum Action: Sendable, Equatable {
        /// Write this message to the acceptor.
        case send(Message)
        /// Close the connection; `reason` is for the log.
        case close(reason: String)
        /// The acceptor proved the token and attached the link to its group.
        case established
    }

    private enum Phase: Sendable, Equatable {
        case idle, awaitingChallenge, awaitingWelcome, established, closed

        var label: String {
            switch self {
            case .idle: return "not started"
            case .awaitingChallenge: return "awaiting peer challenge"
            case .awaitingWelcome: return "awaiting peer welcome"
            case .established: return "established"
            case .closed: return "closed"
            }
        }
    }

    /// What this link claims (group, ranks) and the dialer's nonce.
    public let hello: PeerHello
    private let token: [UInt8]
    /// Seconds from `init` to the welcome before the link is closed.
    public let handshakeTimeout: Double
    private let openedAt: Double
    private var phase: Phase = .idle

    /// The error that closed the link, if it was closed for a protocol violation or a timeout.
    public private(set) var failure: ProtocolError?
    /// The acceptor's reason, when it refused the link with a goodbye.
    public private(set) var refusal: String?

    /// - Parameters:
    ///   - hello: this link's group and ranks, with 32 fresh random bytes as the nonce; never reuse one.
    ///   - now: the caller's monotonic clock, in seconds; every later `now` must come from the same clock.
    public init(hello: PeerHello, token: [UInt8], now: Double, handshakeTimeout: Double = 10) {
        self.hello = hello
        self.token = token
        self.handshakeTimeout = handshakeTimeout
        self.openedAt = now
    }

    /// True once the welcome arrived.
    public var isEstablished: Bool { phase == .established }
    /// True after the machine returned `.close`.
    public var isClosed: Bool { phase == .closed }

    /// `[.send(.peerHello(hello))]` the first time; [] afterwards.
    public mutating func start() -> [Action] {
        guard phase == .idle else { return [] }
        if let error = hello.validationError { return fail(error) }
        phase = .awaitingChallenge
        return [.send(.peerHello(hello))]
    }

    /// A message from the acceptor arrived at `now` (only handshake messages; data is the caller's business).
    public mutating func received(_ m: Message, now: Double) -> [Action] {
        guard phase != .closed, phase != .established else { return [] }
        switch (phase, m) {
        case (_, .goodbye(let reason)):
            phase = .closed
            refusal = reason
            return [.close(reason: "rank \(hello.acceptor) refused the link: \(reason)")]

        case (.awaitingChallenge, .peerChallenge(let acceptorNonce, let proof)):
            guard acceptorNonce.count == TokenAuth.nonceSize else {
                return fail(.invalidField(name: "peerChallenge.nonce", reason: "must be \(TokenAuth.nonceSize) bytes"))
            }
            let expected = hello.proof(token: token, role: PeerHello.acceptorRole, acceptorNonce: acceptorNonce)
            guard TokenAuth.constantTimeEqual(proof, expected) else { return fail(.authenticationFailed) }
            phase = .awaitingWelcome
            return [.send(.peerProof(proof: hello.proof(token: token, role: PeerHello.dialerRole,
                                                        acceptorNonce: acceptorNonce)))]

        case (.awaitingWelcome, .peerWelcome):
            phase = .established
            return [.established]

        default:
            return fail(.unexpected(message: m.type.description, state: phase.label))
        }
    }

    /// Time passed: closes the link when the handshake has not finished within `handshakeTimeout`.
    public mutating func tick(now: Double) -> [Action] {
        switch phase {
        case .closed, .established:
            return []
        case .idle, .awaitingChallenge, .awaitingWelcome:
            guard now - openedAt >= handshakeTimeout else { return [] }
            return fail(.timeout(what: "peer handshake not completed within \(handshakeTimeout) s (\(phase.label))"))
        }
    }

    private mutating func fail(_ error: ProtocolError) -> [Action] {
        phase = .closed
        failure = error
        return [.send(.goodbye(reason: error.description)), .close(reason: error.description)]
    }
}
