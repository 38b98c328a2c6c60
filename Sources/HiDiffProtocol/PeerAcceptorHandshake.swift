/// The accepting side of a peer link's handshake, as a pure state machine: feed it what arrived and the time,
/// answer its questions, perform the returned actions in order. No clocks, no sockets, no group registry.
///
/// A hello yields `.lookUp(hello)`: the caller finds the group it names and answers `challenge(token:)` (the
/// group's token) or `refuse(reason:)`. A proof that verifies (role `PeerHello.dialerRole`, bound to the hello)
/// yields `.authenticated(hello)`: the caller attaches the link and answers `welcome()`, or refuses. A wrong
/// proof closes with `authenticationFailed`. After the welcome the link carries data and this machine is inert.
/// Every close the machine decides on is `[.send(.goodbye(reason)), .close(reason: reason)]`.
public struct PeerAcceptorHandshake: Sendable {
    /// What the caller must do, in order.
    public enum Action: Sendable, Equatable {
        /// Write this message to the dialer.
        case send(Message)
        /// Close the connection; `reason` is for the log.
        case close(reason: String)
        /// Find the group `hello` names; answer with `challenge(token:)` or `refuse(reason:)`.
        case lookUp(PeerHello)
        /// The dialer proved the token; answer with `welcome()` or `refuse(reason:)`.
        case authenticated(PeerHello)
    }

    private enum Phase: Sendable, Equatable {
        case awaitingHello
        case lookingUp(PeerHello)
        case awaitingProof(PeerHello, token: [UInt8])
        case deciding(PeerHello)
        case established(PeerHello)
        case closed

        var label: String {
            switch self {
            case .awaitingHello: return "awaiting peer hello"
            case .lookingUp: return "looking up the group"
            case .awaitingProof: return "awaiting peer proof"
            case .deciding: return "deciding"
            case .established: return "established"
            case .closed: return "closed"
            }
        }
    }

    private let nonce: [UInt8]
    /// Seconds from `init` to the welcome before the link is closed.
    public let handshakeTimeout: Double
    private let openedAt: Double
    private var phase: Phase = .awaitingHello

    /// The error that closed the link, if it was closed for a protocol violation or a timeout.
    public private(set) var failure: ProtocolError?

    /// - Parameters:
    ///   - nonce: 32 fresh random bytes for this connection (`TokenAuth.makeNonce()`); never reuse one.
    ///   - now: the caller's monotonic clock, in seconds; every later `now` must come from the same clock.
    public init(nonce: [UInt8], now: Double, handshakeTimeout: Double = 10) {
        self.nonce = nonce
        self.handshakeTimeout = handshakeTimeout
        self.openedAt = now
    }

    /// The dialer's hello once it arrived (nil before it and after a close).
    public var hello: PeerHello? {
        switch phase {
        case .lookingUp(let h), .awaitingProof(let h, _), .deciding(let h), .established(let h): return h
        case .awaitingHello, .closed: return nil
        }
    }

    /// True after the welcome went out.
    public var isEstablished: Bool {
        if case .established = phase { return true }
        return false
    }

    /// True after the machine returned `.close`.
    public var isClosed: Bool { phase == .closed }

    /// A message from the dialer arrived at `now` (only handshake messages; data is the caller's business).
    public mutating func received(_ m: Message, now: Double) -> [Action] {
        if phase == .closed || isEstablished { return [] }
        switch (phase, m) {
        case (_, .goodbye(let reason)):
            phase = .closed
            return [.close(reason: "the dialer said goodbye: \(reason)")]

        case (.awaitingHello, .peerHello(let hello)):
            if let error = hello.validationError { return fail(error) }
            guard nonce.count == TokenAuth.nonceSize else {
                return fail(.invalidField(name: "acceptor nonce", reason: "must be \(TokenAuth.nonceSize) bytes"))
            }
            phase = .lookingUp(hello)
            return [.lookUp(hello)]

        case (.awaitingProof(let hello, let token), .peerProof(let proof)):
            let expected = hello.proof(token: token, role: PeerHello.dialerRole, acceptorNonce: nonce)
            guard TokenAuth.constantTimeEqual(proof, expected) else { return fail(.authenticationFailed) }
            phase = .deciding(hello)
            return [.authenticated(hello)]

        default:
            return fail(.unexpected(message: m.type.description, state: phase.label))
        }
    }

    /// The hello names a group this side expects: challenge the dialer with the group's token. [] unless a
    /// `.lookUp` is pending.
    public mutating func challenge(token: [UInt8]) -> [Action] {
        guard case .lookingUp(let hello) = phase else { return [] }
        phase = .awaitingProof(hello, token: token)
        return [.send(.peerChallenge(nonce: nonce, proof: hello.proof(token: token, role: PeerHello.acceptorRole,
                                                                      acceptorNonce: nonce)))]
    }

    /// The link is attached to its group: welcome the dialer. [] unless an `.authenticated` is pending.
    public mutating func welcome() -> [Action] {
        guard case .deciding(let hello) = phase else { return [] }
        phase = .established(hello)
        return [.send(.peerWelcome)]
    }

    /// This side does not take the link (unknown group, unexpected rank, already linked):
    /// `[.send(.goodbye(reason)), .close(reason:)]`, or [] when already closed.
    public mutating func refuse(reason: String) -> [Action] {
        guard phase != .closed else { return [] }
        phase = .closed
        return [.send(.goodbye(reason: reason)), .close(reason: reason)]
    }

    /// Time passed: closes the link when the handshake has not finished within `handshakeTimeout`.
    public mutating func tick(now: Double) -> [Action] {
        if phase == .closed || isEstablished { return [] }
        guard now - openedAt >= handshakeTimeout else { return [] }
        return fail(.timeout(what: "peer handshake not completed within \(handshakeTimeout) s (\(phase.label))"))
    }

    private mutating func fail(_ error: ProtocolError) -> [Action] {
        phase = .closed
        failure = error
        return [.send(.goodbye(reason: error.description)), .close(reason: error.description)]
    }
}
