import HiDiffProtocol
import HiDiffTLS
import Logging
import NIOCore

/// The dialing side of one outgoing peer connection: runs the dialer handshake (frames capped at 64 KiB until
/// the acceptor welcomed us), completes `promise` with the established link or with why the attempt failed
/// (`DialAttemptFailure`), then deposits the link's data in its mailbox.
final class DialerHandler: ChannelInboundHandler {
    typealias InboundIn = Message
    typealias OutboundOut = Message

    private var handshake: PeerDialerHandshake
    private let decoder: FrameDecoder
    private let promise: EventLoopPromise<PeerLink>
    private let logger: Logger
    private var established: LinkMailbox?
    private var timeout: Scheduled<Void>?

    init(handshake: PeerDialerHandshake, decoder: FrameDecoder, promise: EventLoopPromise<PeerLink>, logger: Logger) {
        self.handshake = handshake
        self.decoder = decoder
        self.promise = promise
        self.logger = logger
    }

    private var peer: Int { handshake.hello.acceptor }

    func handlerAdded(context: ChannelHandlerContext) {
        scheduleTimeout(context: context, after: handshake.handshakeTimeout)
        if context.channel.isActive { perform(handshake.start(), context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        perform(handshake.start(), context: context)  // [] when handlerAdded already started
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
        established?.linkEnded(peer: peer)
        // A promise must never be left open (the connect may fail before the channel is active).
        promise.fail(DialAttemptFailure(reason: "the connection closed during the handshake", retryable: true))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        if let mailbox = established {
            if let ending = mailbox.deliver(message, from: peer) { context.endLink(ending, logger: logger) }
            return
        }
        perform(handshake.received(message, now: MonotonicClock.now()), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        established?.linkEnded(peer: peer)
        promise.fail(DialAttemptFailure(reason: "the connection closed during the handshake", retryable: true))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let mailbox = established {
            mailbox.linkFailed(peer: peer, error: error, link: "peer link to rank \(peer)", logger: logger)
            if error is ProtocolError {
                context.writeAndFlush(wrapOutboundOut(.goodbye(reason: "\(error)")), promise: nil)
            }
        } else {
            // A certificate that does not verify will not verify on the next attempt either.
            let tls = LinkTLS.isTLSFailure(error)
            promise.fail(DialAttemptFailure(reason: tls ? "TLS: \(error)" : "\(error)", retryable: !tls))
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

    private func perform(_ actions: [PeerDialerHandshake.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let message):
                context.writeAndFlush(wrapOutboundOut(message), promise: nil)
            case .close(let reason):
                // Only an acceptor that cannot prove the token is final; refusals and timeouts may pass.
                let final = handshake.failure == .authenticationFailed
                promise.fail(DialAttemptFailure(reason: reason, retryable: !final))
                context.close(promise: nil)
            case .established:
                timeout?.cancel()
                decoder.payloadLimit = nil
                let mailbox = LinkMailbox()
                established = mailbox
                promise.succeed(PeerLink(peerRank: peer, channel: context.channel, mailbox: mailbox))
            }
        }
    }
}

/// Why one dial attempt did not end in a link, and whether trying again may help.
struct DialAttemptFailure: Error, CustomStringConvertible {
    var reason: String
    var retryable: Bool
    var description: String { reason }
}
