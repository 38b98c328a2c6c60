import HiDiffProtocol
import Logging
import NIOCore

/// A `PeerListener`'s side of one incoming connection: runs the acceptor handshake (frames capped at 64 KiB
/// until the dialer proved the token, closed when not done within the handshake timeout), hands the link to
/// the pending join it names, then deposits the link's data in its mailbox.
///
/// Anything a client sends ends at worst in a logged refusal and a closed connection.
final class AcceptorHandler: ChannelInboundHandler {
    typealias InboundIn = Message
    typealias OutboundOut = Message

    private var handshake: PeerAcceptorHandshake
    private let decoder: FrameDecoder
    private let pending: PendingLinks
    private let logger: Logger
    private var established: (mailbox: LinkMailbox, peer: Int)?
    private var timeout: Scheduled<Void>?
    private var peerAddress = "?"

    init(decoder: FrameDecoder, pending: PendingLinks, handshakeTimeout: Double, logger: Logger) {
        self.decoder = decoder
        self.pending = pending
        self.logger = logger
        handshake = PeerAcceptorHandshake(nonce: TokenAuth.makeNonce(), now: MonotonicClock.now(),
                                          handshakeTimeout: handshakeTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        peerAddress = context.channel.remoteAddress.map { "\($0)" } ?? "?"
        scheduleTimeout(context: context, after: handshake.handshakeTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
        if let (mailbox, peer) = established { mailbox.linkEnded(peer: peer) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        if let (mailbox, peer) = established {
            if let ending = mailbox.deliver(message, from: peer) { context.endLink(ending, logger: logger) }
            return
        }
        perform(handshake.received(message, now: MonotonicClock.now()), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        if let (mailbox, peer) = established { mailbox.linkEnded(peer: peer) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let (mailbox, peer) = established {
            mailbox.linkFailed(peer: peer, error: error, link: "peer link from rank \(peer) (\(peerAddress))", logger: logger)
            if error is ProtocolError {
                context.writeAndFlush(wrapOutboundOut(.goodbye(reason: "\(error)")), promise: nil)
            }
        } else {
            logger.notice("peer listener: closing the connection from \(peerAddress) during the handshake: \(error)")
            if error is ProtocolError {
                context.writeAndFlush(wrapOutboundOut(.goodbye(reason: "\(error)")), promise: nil)
            }
        }
        context.close(promise: nil)
    }

    private func scheduleTimeout(context: ChannelHandlerContext, after seconds: Double) {
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: MonotonicClock.amount(seconds)) { [self] in
            let actions = handshake.tick(now: MonotonicClock.now())
            if actions.isEmpty, !handshake.isClosed, !handshake.isEstablished {
                scheduleTimeout(context: context, after: 0.05)  // woke a hair early
            }
            perform(actions, context: context)
        }
    }

    /// What an unauthenticated dialer is told when no pending join matches its hello.
    static let refusal = "refused: no group here is waiting for this link"

    private func perform(_ actions: [PeerAcceptorHandshake.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let message):
                context.writeAndFlush(wrapOutboundOut(message), promise: nil)
            case .close(let reason):
                logger.notice("peer listener: closed the connection from \(peerAddress): \(reason)")
                context.close(promise: nil)
            case .lookUp(let hello):
                switch pending.check(hello) {
                case .success(let token):
                    perform(handshake.challenge(token: token), context: context)
                case .failure(let refusal):
                    // The dialer has not proved the token yet: it learns only that it was refused; which
                    // groups wait here, and their sizes, stay in this log.
                    logger.notice("peer listener: refusing the link from \(peerAddress): \(refusal.reason)")
                    perform(handshake.refuse(reason: Self.refusal), context: context)
                }
            case .authenticated(let hello):
                attach(hello, context: context)
            }
        }
    }

    /// The dialer proved the token: give the link to its join, or refuse it when the join is gone.
    private func attach(_ hello: PeerHello, context: ChannelHandlerContext) {
        guard let entry = pending.claim(hello) else {
            let reason = "refused: group \(hello.groupID) rank \(hello.acceptor) is no longer waiting for rank "
                + "\(hello.dialer)"
            perform(handshake.refuse(reason: reason), context: context)
            return
        }
        timeout?.cancel()
        decoder.payloadLimit = nil
        let mailbox = LinkMailbox()
        established = (mailbox, hello.dialer)
        perform(handshake.welcome(), context: context)
        logger.debug("peer listener: \(hello.binding) linked from \(peerAddress)")
        entry.promise.succeed(PeerLink(peerRank: hello.dialer, channel: context.channel, mailbox: mailbox))
    }
}
