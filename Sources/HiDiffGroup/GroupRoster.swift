import HiDiffProtocol

/// Who is in a render group and which member this process is.
///
/// Members are in rank order: rank 0 holds the top stripe of the image. Every member must be given the same
/// group id and the same member list; each dials its successor (rank + 1 mod size) and accepts its predecessor.
public struct GroupRoster: Sendable, Equatable {
    /// Identifies the group on the wire (e.g. derived from the job and attempt); unique among the groups a
    /// listener serves at once.
    public let groupID: UInt64
    /// Every member's listener, in rank order.
    public let members: [PeerAddress]
    /// This member's rank, 0..<size.
    public let rank: Int

    /// Throws `GroupError.invalidRoster` when `members` is empty or larger than `PeerHello.maxGroupSize`, `rank`
    /// is out of range, or a port is outside 1...65535.
    public init(groupID: UInt64, members: [PeerAddress], rank: Int) throws {
        guard !members.isEmpty, members.count <= PeerHello.maxGroupSize else {
            throw GroupError.invalidRoster(reason: "\(members.count) members; a group has "
                                           + "1...\(PeerHello.maxGroupSize)")
        }
        guard members.indices.contains(rank) else {
            throw GroupError.invalidRoster(reason: "rank \(rank) is outside a group of \(members.count)")
        }
        for (r, m) in members.enumerated() where !(1...65535).contains(m.port) {
            throw GroupError.invalidRoster(reason: "rank \(r)'s address \(m) has no valid port")
        }
        self.groupID = groupID
        self.members = members
        self.rank = rank
    }

    /// Number of members.
    public var size: Int { members.count }
    /// The rank this member dials: the one below it, wrapping around to 0 (the ring).
    public var next: Int { (rank + 1) % size }
    /// The rank that dials this member: the one above it, wrapping around to the last.
    public var previous: Int { (rank + size - 1) % size }
}
