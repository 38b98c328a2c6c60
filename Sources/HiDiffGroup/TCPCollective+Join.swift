import HiDiffCore
import HiDiffProtocol
import Logging
import NIOCore

extension TCPCollective {
    /// Forms this member's part of the group: registers with `listener` for the link from rank - 1, dials
    /// rank + 1 (retrying while it is not listening or not yet joining), and returns once both links are
    /// authenticated with `token` (over TLS when the listener has it). K = 1 returns at once, without links.
    ///
    /// Throws `CollectiveError.timeout` when a link is not there within `timeout` seconds,
    /// `GroupError.authenticationFailed` when rank + 1 cannot prove the token, `GroupError.alreadyJoining` or
    /// `.listenerClosed`. On a throw every link made so far is closed.
    public static func join(roster: GroupRoster, listener: PeerListener, token: [UInt8], timeout: Double = 60,
                            configuration: Configuration = Configuration(),
                            logger: Logger = Logger(label: "hidiff.group")) async throws -> TCPCollective {
        try await joinFuture(roster: roster, listener: listener, token: token, timeout: timeout,
                             configuration: configuration, logger: logger).get()
    }

    /// `join` for a thread that may block, such as the compute thread that will use the collective (never an
    /// event loop, never an async context).
    public static func joinBlocking(roster: GroupRoster, listener: PeerListener, token: [UInt8], timeout: Double = 60,
                                    configuration: Configuration = Configuration(),
                                    logger: Logger = Logger(label: "hidiff.group")) throws -> TCPCollective {
        try joinFuture(roster: roster, listener: listener, token: token, timeout: timeout,
                       configuration: configuration, logger: logger).wait()
    }

    private static func joinFuture(roster: GroupRoster, listener: PeerListener, token: [UInt8], timeout: Double,
                                   configuration: Configuration, logger: Logger) -> EventLoopFuture<TCPCollective> {
        let loop = listener.eventLoopGroup.next()
        guard roster.size > 1 else {
            return loop.makeSucceededFuture(TCPCollective(roster: roster, configuration: configuration, next: nil,
                                                          previous: nil, logger: logger))
        }
        let (rank, previous) = (roster.rank, roster.previous)
        let key = PendingLinks.Key(groupID: roster.groupID, rank: rank)
        let accepted = loop.makePromise(of: PeerLink.self)
        do {
            try listener.pending.register(key, .init(size: roster.size, dialer: previous, token: token,
                                                     promise: accepted))
        } catch {
            accepted.fail(error)
            return loop.makeFailedFuture(error)
        }
        let expired = loop.scheduleTask(in: MonotonicClock.amount(timeout)) {
            listener.pending.cancel(key, error: CollectiveError.timeout(
                rank: previous, seconds: timeout,
                waitingFor: "rank \(previous) to link to rank \(rank) of group \(roster.groupID)"))
        }
        let dialer = PeerDialer(roster: roster, token: token, joinTimeout: timeout,
                                handshakeTimeout: listener.handshakeTimeout, tls: listener.tls, eventLoop: loop,
                                logger: logger)
        dialer.start()

        let both = dialer.link.and(accepted.futureResult)
        both.whenComplete { _ in expired.cancel() }
        both.whenFailure { error in
            dialer.abandon(error)
            listener.pending.cancel(key, error: error)
            accepted.futureResult.whenSuccess { $0.close(reason: "rank \(rank) could not join: \(error)") }
        }
        return both.map { next, previous in
            logger.debug("group \(roster.groupID): rank \(rank) of \(roster.size) linked")
            return TCPCollective(roster: roster, configuration: configuration, next: next, previous: previous,
                                 logger: logger)
        }
    }
}
