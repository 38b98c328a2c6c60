import HiDiffCore

/// How `TCPCollective.fetchRows` moves rows around the ring: each rank's rows go to the ranks that need them
/// the shorter way round (towards rank + 1 on ties), as at most one message per direction: the union of the
/// rows the ranks on that side need, passed along as far as the farthest of them, each rank on the way
/// keeping what it needs. So a row crosses each link at most once.
///
/// A pure function of the plan, so every member knows, without asking, what it sends, what arrives on each
/// link and in which order, and what it keeps or passes on. Nothing travels where nothing is needed.
public struct RowRoutes: Sendable {
    /// Towards rank + 1 (the `next` link) or rank - 1 (the `previous` link), wrapping around.
    public enum Direction: Sendable, CaseIterable {
        case down
        case up
    }

    /// One rank's rows travelling one way.
    public struct Message: Sendable, Equatable {
        /// The rank whose rows these are.
        public var origin: Int
        public var direction: Direction
        /// The global rows carried, sorted: every row a rank on this side needs from `origin`.
        public var rows: [Range<Int>]
        /// Links the message crosses (the farthest rank that needs some of it).
        public var reach: Int
    }

    /// The fetch being routed.
    public let plan: RowFetchPlan
    /// Members in the ring.
    public var size: Int { plan.size }

    public init(plan: RowFetchPlan) { self.plan = plan }

    /// The way rows from `origin` travel to `destination`.
    public func direction(from origin: Int, to destination: Int) -> Direction {
        let forward = (destination - origin + size) % size
        return forward <= size - forward ? .down : .up
    }

    /// Links between `origin` and `destination` the short way round.
    public func hops(from origin: Int, to destination: Int) -> Int {
        let forward = (destination - origin + size) % size
        return min(forward, size - forward)
    }

    /// The rank `hops` links from `origin` in `direction`.
    public func rank(_ hops: Int, from origin: Int, _ direction: Direction) -> Int {
        direction == .down ? (origin + hops) % size : ((origin - hops) % size + size) % size
    }

    /// What `origin` sends in `direction`, or nil when no rank that way needs its rows.
    public func message(from origin: Int, _ direction: Direction) -> Message? {
        let needers = (0..<size).filter {
            $0 != origin && self.direction(from: origin, to: $0) == direction && plan.rowCount(from: origin, to: $0) > 0
        }
        guard let reach = needers.map({ hops(from: origin, to: $0) }).max() else { return nil }
        let rows = RowFetchPlan.merged(needers.flatMap { plan.rows(from: origin, to: $0) })
        return Message(origin: origin, direction: direction, rows: rows, reach: reach)
    }

    /// The messages arriving at `rank` travelling in `direction`, in the order they arrive: first the one the
    /// neighbour sent itself, then those it passes on, in the order it received them (which unrolls to: by
    /// distance from their origin).
    public func arrivals(at rank: Int, _ direction: Direction) -> [Message] {
        guard size > 1 else { return [] }
        let back: Direction = direction == .down ? .up : .down
        return (1..<size).compactMap { hop in
            message(from: self.rank(hop, from: rank, back), direction).flatMap { $0.reach >= hop ? $0 : nil }
        }
    }

    /// Whether `rank`, reached by `message`, passes it on to its next neighbour that way.
    public func forwards(_ message: Message, at rank: Int) -> Bool {
        hops(from: message.origin, to: rank) < message.reach
    }
}
