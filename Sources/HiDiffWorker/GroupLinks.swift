import HiDiffCore
import HiDiffGroup
import HiDiffProtocol
import Logging

/// A worker's side of sharded jobs: the listener its group peers dial and the token they prove; it logs
/// the bytes each group sent.
public final class GroupLinks: Sendable {
    public let listener: PeerListener
    /// Where the other members reach this worker ("host:port"), as it registers.
    public let advertisedAddress: String
    private let token: [UInt8]
    private let logger: Logger
    /// Seconds a member waits for its group's links before the job fails (retryable).
    public let joinTimeout: Double

    public init(listener: PeerListener, advertisedAddress: String, token: [UInt8], joinTimeout: Double = 60,
                logger: Logger) {
        self.listener = listener
        self.advertisedAddress = advertisedAddress
        self.token = token
        self.joinTimeout = joinTimeout
        self.logger = logger
    }

    /// Links this worker to the other members of `group` (call on the job's compute thread).
    func join(_ group: GroupAssignment) throws -> TCPCollective {
        let roster = try GroupRoster(groupID: group.groupID, members: try group.peers.map { try PeerAddress($0) },
                                     rank: Int(group.rank))
        logger.info("joining group", metadata: ["group": "\(group.groupID)", "rank": "\(group.rank)",
                                                "members": "\(group.names.joined(separator: ","))"])
        return try TCPCollective.joinBlocking(roster: roster, listener: listener, token: token, timeout: joinTimeout,
                                              logger: logger)
    }

    func record(_ traffic: CollectiveTraffic, job: Int64) {
        let sent = CollectiveKind.allCases.compactMap { k in traffic.bytesSent[k].map { "\(k)=\($0)" } }
        logger.info("group traffic", metadata: ["job": "\(job)", "sent_bytes": "\(sent.joined(separator: " "))"])
    }

}
