/// Which rows of a striped map each rank holds and which rows each rank needs, for `Collective.fetchRows`.
///
/// A pure function of the op's geometry, built alike on every rank, so every sender knows what each
/// receiver needs without being asked (a request would cost a round trip per call on a network). A rank's
/// needs may include its own rows (they are copied locally) and rows of any other rank, not only its
/// neighbours' (MSW-MSA's windows span half the map and wrap around it after the shift).
public struct RowFetchPlan: Sendable, Equatable, CustomStringConvertible {
    /// Rank r holds the global rows `stripes[r]`; consecutive, starting at 0.
    public let stripes: [Range<Int>]
    /// Rank r needs the global rows `needs[r]`: sorted, disjoint, non-empty ranges inside the map.
    public let needs: [[Range<Int>]]

    /// The plan for stripes of the given heights (rank order) and each rank's needed rows (any order,
    /// overlaps allowed: they are sorted and merged). Throws `.invalidStripe` for a row outside the map.
    public init(stripeRows: [Int], needs: [[Range<Int>]]) throws {
        guard !stripeRows.isEmpty, needs.count == stripeRows.count, stripeRows.allSatisfy({ $0 >= 0 }) else {
            throw CollectiveError.invalidStripe(
                reason: "a row fetch plan for \(stripeRows.count) stripes names \(needs.count) ranks' needs")
        }
        var start = 0
        stripes = stripeRows.map { rows in
            defer { start += rows }
            return start..<(start + rows)
        }
        let height = start
        self.needs = try needs.enumerated().map { rank, ranges in
            for r in ranges where r.lowerBound < 0 || r.upperBound > height {
                throw CollectiveError.invalidStripe(
                    reason: "rank \(rank) needs rows \(r) of a map of \(height) rows")
            }
            return Self.merged(ranges)
        }
    }

    /// Number of ranks.
    public var size: Int { stripes.count }
    /// Rows of the whole map.
    public var height: Int { stripes.last?.upperBound ?? 0 }

    /// The rows rank `from` sends to rank `to`: `from`'s own rows among `to`'s needs, in `to`'s order
    /// (empty when `from == to`: own rows are not sent).
    public func rows(from: Int, to: Int) -> [Range<Int>] {
        guard from != to else { return [] }
        let held = stripes[from]
        return needs[to].compactMap { r in
            let lo = max(r.lowerBound, held.lowerBound), hi = min(r.upperBound, held.upperBound)
            return lo < hi ? lo..<hi : nil
        }
    }

    /// Number of rows `from` sends to `to`.
    public func rowCount(from: Int, to: Int) -> Int { rows(from: from, to: to).reduce(0) { $0 + $1.count } }

    /// Number of rows rank `rank` ends up with.
    public func neededCount(_ rank: Int) -> Int { needs[rank].reduce(0) { $0 + $1.count } }

    /// Rank `rank`'s needed rows, taken along `axis` from `local` (its own stripe) and `received(o)` (what
    /// rank o sent it, as `rows(from: o, to: rank)` in that order), concatenated in `needs[rank]` order.
    public func assemble(rank: Int, axis: Int, local: Tensor, received: (Int) -> Tensor) -> Tensor {
        var pieces: [Tensor] = []
        var blocks = [Tensor?](repeating: nil, count: size)
        var cursor = [Int](repeating: 0, count: size)  // rows of each sender's block used so far
        for range in needs[rank] {
            // Split the range by owner; the ranks' stripes are consecutive.
            var row = range.lowerBound
            while row < range.upperBound {
                let owner = stripes.firstIndex { $0.contains(row) }!
                let end = min(range.upperBound, stripes[owner].upperBound)
                if owner == rank {
                    let base = stripes[rank].lowerBound
                    pieces.append(local.slice(axis: axis, (row - base)..<(end - base)))
                } else {
                    if blocks[owner] == nil { blocks[owner] = received(owner) }
                    pieces.append(blocks[owner]!.slice(axis: axis, cursor[owner]..<(cursor[owner] + end - row)))
                    cursor[owner] += end - row
                }
                row = end
            }
        }
        if pieces.isEmpty {
            var shape = local.shape
            shape[axis] = 0
            return Tensor(shape: shape, data: [])
        }
        return Tensor.concat(pieces, axis: axis)
    }

    /// The rows `wanted` (sorted global rows) out of `block`, which holds the global rows `held` (sorted) in
    /// order along `axis`. Every wanted row must be held.
    public static func select(_ wanted: [Range<Int>], from block: Tensor, holding held: [Range<Int>],
                              axis: Int) -> Tensor {
        if wanted == held { return block }
        var offsets: [Int] = []  // where each held range starts in the block
        var at = 0
        for r in held {
            offsets.append(at)
            at += r.count
        }
        let pieces = wanted.map { w -> Tensor in
            let i = held.firstIndex { $0.lowerBound <= w.lowerBound && w.upperBound <= $0.upperBound }!
            let start = offsets[i] + w.lowerBound - held[i].lowerBound
            return block.slice(axis: axis, start..<(start + w.count))
        }
        return Tensor.concat(pieces, axis: axis)
    }

    public var description: String {
        "rows \(stripes.map { "\($0.lowerBound)..<\($0.upperBound)" }) needs "
            + "\(needs.map { $0.map { "\($0.lowerBound)..<\($0.upperBound)" } })"
    }

    /// Sorted, overlaps and neighbours joined, empties dropped.
    public static func merged(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for r in ranges.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, r.lowerBound <= last.upperBound {
                out[out.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }
}

extension RowFetchPlan {
    /// Throws `.invalidStripe` unless this plan is for a group of `size` and `x` holds rank `rank`'s stripe
    /// along `axis`: what every transport checks before a fetch.
    public func check(_ x: Tensor, axis: Int, rank: Int, size: Int) throws {
        guard self.size == size else {
            throw CollectiveError.invalidStripe(reason: "a row fetch plan for \(self.size) ranks in a group of \(size)")
        }
        guard axis >= 0, axis < x.rank, x.dim(axis) == stripes[rank].count else {
            throw CollectiveError.invalidStripe(
                reason: "rank \(rank) holds \(stripes[rank].count) rows of the plan, but its tensor has shape "
                    + "\(x.shape) (axis \(axis))")
        }
    }
}
