import HiDiffProtocol
import HiDiffTLS
import Logging
import NIOCore
import NIOPosix

/// Accepts peer links for the groups this process joins: one per worker process, shared by its groups.
///
/// Each connection runs the acceptor handshake (frames capped at 64 KiB until the dialer proved the token,
/// closed when not done within `handshakeTimeout`) and is handed to the pending join it names by group id and
/// ranks (`TCPCollective.join` registers one). A link for an unknown group, a rank that is not the expected
/// dialer, a wrong token or garbage is refused with a log line and the connection closed; nothing a client
/// sends can take the listener down.
///
/// With `tls`, every link of its groups is TLS: this listener's connections are TLS servers (requiring a
/// client certificate signed by the CA when one is given) and its joins dial out as TLS clients, verifying
/// each member's certificate against the host it is dialed at.
public final class PeerListener: Sendable {
    /// The address the listener was asked to bind.
    public let host: String
    /// The bound port (the one the system chose when asked for port 0).
    public let port: Int
    /// Where dialing and the links' IO run.
    public let eventLoopGroup: any EventLoopGroup
    /// Seconds a connection may take to authenticate.
    public let handshakeTimeout: Double
    /// TLS for both directions of the group links (nil: plain TCP).
    public let tls: LinkTLS?
    let pending: PendingLinks
    let logger: Logger
    private let channel: any Channel

    private init(host: String, port: Int, eventLoopGroup: any EventLoopGroup, handshakeTimeout: Double,
                 tls: LinkTLS?, pending: PendingLinks, logger: Logger, channel: any Channel) {
        self.tls = tls
        self.host = host
        self.port = port
        self.eventLoopGroup = eventLoopGroup
        self.handshakeTimeout = handshakeTimeout
        self.pending = pending
        self.logger = logger
        self.channel = channel
    }

    /// Binds `host:port` (port 0: any free port, see `port`) and starts accepting.
    /// Throws `GroupError.bindFailed` when the address cannot be bound.
    public static func bind(host: String, port: Int,
                            eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                            handshakeTimeout: Double = 10, tls: LinkTLS? = nil,
                            logger: Logger = Logger(label: "hidiff.group")) async throws -> PeerListener {
        try await bindFuture(host: host, port: port, eventLoopGroup: eventLoopGroup, handshakeTimeout: handshakeTimeout,
                             tls: tls, logger: logger).get()
    }

    /// `bind` for a thread that may block (never an event loop, never an async context).
    public static func bindBlocking(host: String, port: Int,
                                    eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                                    handshakeTimeout: Double = 10, tls: LinkTLS? = nil,
                                    logger: Logger = Logger(label: "hidiff.group")) throws -> PeerListener {
        try bindFuture(host: host, port: port, eventLoopGroup: eventLoopGroup, handshakeTimeout: handshakeTimeout,
                       tls: tls, logger: logger).wait()
    }

    private static func bindFuture(host: String, port: Int, eventLoopGroup: any EventLoopGroup,
                                   handshakeTimeout: Double, tls: LinkTLS?,
                                   logger: Logger) -> EventLoopFuture<PeerListener> {
        let pending = PendingLinks()
        return ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try tls?.addServerHandler(to: channel)
                    let decoder = FrameDecoder(payloadLimit: FrameDecoder.handshakeLimit)
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(decoder), MessageToByteHandler(FrameEncoder()),
                        AcceptorHandler(decoder: decoder, pending: pending, handshakeTimeout: handshakeTimeout,
                                        logger: logger))
                }
            }
            .bind(host: host, port: port)
            .flatMapErrorThrowing { error in
                throw GroupError.bindFailed(address: "\(host):\(port)", reason: "\(error)")
            }
            .map { channel in
                let bound = channel.localAddress?.port ?? port
                logger.info("peer listener on \(host):\(bound)", metadata: ["tls": "\(tls == nil ? "off" : "on")"])
                return PeerListener(host: host, port: bound, eventLoopGroup: eventLoopGroup,
                                    handshakeTimeout: handshakeTimeout, tls: tls, pending: pending, logger: logger,
                                    channel: channel)
            }
    }

    /// Stops accepting and fails every pending join with `GroupError.listenerClosed`. Established links are
    /// not affected (their groups close them). Returns without waiting for the socket to close.
    public func close() {
        pending.closeAll()
        channel.close(promise: nil)
    }
}
