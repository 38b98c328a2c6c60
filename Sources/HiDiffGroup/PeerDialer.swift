import HiDiffCore
import HiDiffProtocol
import HiDiffTLS
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Dials one member's listener until a link is established, the member fails authentication, the deadline
/// passes or the join is abandoned. Connection refusals and link refusals (the member has not started its join
/// yet) are retried with a growing pause: the members of a group start at slightly different times.
final class PeerDialer: Sendable {
    private let address: PeerAddress
    private let roster: GroupRoster
    private let token: [UInt8]
    private let deadline: NIODeadline
    private let joinTimeout: Double
    private let handshakeTimeout: Double
    private let tls: LinkTLS?
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let promise: EventLoopPromise<PeerLink>
    private let state = Mutex<(abandoned: Bool, lastFailure: String)>((false, "no attempt yet"))

    init(roster: GroupRoster, token: [UInt8], joinTimeout: Double, handshakeTimeout: Double, tls: LinkTLS?,
         eventLoop: any EventLoop, logger: Logger) {
        self.roster = roster
        self.tls = tls
        self.address = roster.members[roster.next]
        self.token = token
        self.joinTimeout = joinTimeout
        self.deadline = .now() + MonotonicClock.amount(joinTimeout)
        self.handshakeTimeout = handshakeTimeout
        self.eventLoop = eventLoop
        self.logger = logger
        promise = eventLoop.makePromise(of: PeerLink.self)
    }

    /// The link to `roster.next`, or `GroupError.authenticationFailed`, `CollectiveError.timeout`, or the error
    /// passed to `abandon`.
    var link: EventLoopFuture<PeerLink> { promise.futureResult }

    func start() {
        eventLoop.execute { self.attempt(pause: 0.05) }
    }

    /// Stops retrying and fails the link with `error`; a link that is established meanwhile is closed.
    func abandon(_ error: any Error) {
        state.withLock { $0.abandoned = true }
        promise.fail(error)
        promise.futureResult.whenSuccess { $0.close(reason: "rank \(self.roster.rank) abandoned the join: \(error)") }
    }

    private var peer: Int { roster.next }

    private func attempt(pause: Double) {
        if state.withLock({ $0.abandoned }) { return }
        let remaining = Double((deadline - .now()).nanoseconds) / 1e9
        guard remaining > 0 else { return timedOut() }
        let hello = PeerHello(groupID: roster.groupID, size: roster.size, dialer: roster.rank, acceptor: peer,
                              nonce: TokenAuth.makeNonce())
        let handshake = PeerDialerHandshake(hello: hello, token: token, now: MonotonicClock.now(),
                                            handshakeTimeout: min(handshakeTimeout, remaining))
        let attempt = eventLoop.makePromise(of: PeerLink.self)
        let (logger, tls, host) = (self.logger, self.tls, address.host)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(MonotonicClock.amount(min(5, remaining)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try tls?.addClientHandler(to: channel, host: host)
                    let decoder = FrameDecoder(payloadLimit: FrameDecoder.handshakeLimit)
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(decoder), MessageToByteHandler(FrameEncoder()),
                        DialerHandler(handshake: handshake, decoder: decoder, promise: attempt, logger: logger))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenFailure { error in attempt.fail(DialAttemptFailure(reason: "\(error)", retryable: true)) }

        attempt.futureResult.whenComplete { result in
            switch result {
            case .success(let link):
                if self.state.withLock({ $0.abandoned }) {
                    link.close(reason: "rank \(self.roster.rank) abandoned the join")
                } else {
                    self.promise.succeed(link)
                }
            case .failure(let error):
                let failure = error as? DialAttemptFailure ?? DialAttemptFailure(reason: "\(error)", retryable: true)
                self.state.withLock { $0.lastFailure = failure.reason }
                guard failure.retryable else {
                    self.logger.error("group \(self.roster.groupID): rank \(self.peer) at \(self.address): \(failure)",
                                      metadata: ["group": "\(self.roster.groupID)", "rank": "\(self.roster.rank)",
                                                 "peer_rank": "\(self.peer)"])
                    self.promise.fail(GroupError.authenticationFailed(rank: self.peer, address: "\(self.address)"))
                    return
                }
                self.logger.debug("group \(self.roster.groupID): no link to rank \(self.peer) yet: \(failure)")
                let left = Double((self.deadline - .now()).nanoseconds) / 1e9
                self.eventLoop.scheduleTask(in: MonotonicClock.amount(min(pause, left))) {
                    self.attempt(pause: min(pause * 2, 1))
                }
            }
        }
    }

    private func timedOut() {
        let last = state.withLock { $0.lastFailure }
        let what = "a link to rank \(peer) at \(address) (last attempt: \(last))"
        promise.fail(CollectiveError.timeout(rank: peer, seconds: joinTimeout, waitingFor: what))
    }
}
