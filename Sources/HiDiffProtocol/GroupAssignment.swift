/// The part of an `Assignment` that makes a worker one rank of a sharded job's group.
///
/// Every member gets the same job, request and checkpoint; its rank says which row stripe it computes.
/// Members link to each other directly (`peers`, in rank order) on the cluster's authenticated protocol;
/// rank 0 reports progress, checkpoints and the result, the others only that they are done.
public struct GroupAssignment: Sendable, Equatable {
    /// Names the group on peer links (unique per job attempt).
    public var groupID: UInt64
    /// This worker's rank, 0 = top stripe.
    public var rank: Int32
    /// The members' peer addresses ("host:port"), in rank order.
    public var peers: [String]
    /// The members' names, in rank order (for logs and errors).
    public var names: [String]

    /// The most members a group may have.
    public static let maxSize = 64

    public var size: Int { peers.count }

    /// Memberwise.
    public init(groupID: UInt64, rank: Int32, peers: [String], names: [String]) {
        self.groupID = groupID
        self.rank = rank
        self.peers = peers
        self.names = names
    }

    /// The group id of a job attempt: unique across the cluster because (job, attempt) is.
    public static func id(jobID: Int64, attempt: Int32) -> UInt64 {
        (UInt64(truncatingIfNeeded: jobID) << 20) | UInt64(truncatingIfNeeded: attempt & 0xFFFFF)
    }
}
