import Foundation

/// K stripes of one image in one process, each on its own thread, meeting at a barrier for every
/// collective call. It proves the sharding seam without a network and is the reference the TCP
/// transport must equal bit for bit.
///
/// Every call is numbered per member and described (op, kind, shape); members that disagree get
/// `CollectiveError.mismatch`. A member that throws or leaves breaks the group: the others' pending and
/// later calls throw `.broken` instead of waiting forever.
public final class LocalGroup: @unchecked Sendable {
    public let size: Int
    private let condition = NSCondition()
    private var slots: [Deposit?]
    private var arrived = 0
    private var generation = 0
    private var failure: String?

    struct Deposit {
        var sequence: Int
        var signature: String
        var value: Any
    }

    public init(size: Int) {
        precondition(size >= 1, "a group needs at least one member")
        self.size = size
        slots = Array(repeating: nil, count: size)
    }

    /// The collective of member `rank` (a fresh call counter: use one per member and run).
    public func member(_ rank: Int) -> LocalCollective {
        precondition(rank >= 0 && rank < size, "rank \(rank) outside a group of \(size)")
        return LocalCollective(group: self, rank: rank)
    }

    /// Runs `body(rank, collective)` for every rank concurrently and returns the results in rank order.
    /// A member that throws breaks the group (the others' collective calls throw) and its error is rethrown
    /// here: the first by rank among the errors that are not `.broken`, else the first.
    public func run<T>(_ body: @escaping (Int, LocalCollective) throws -> T) throws -> [T] {
        let results = ResultSlots<T>(size)
        let done = DispatchGroup()
        for rank in 0..<size {
            done.enter()
            let thread = Thread { [self] in
                let r = Result { try body(rank, member(rank)) }
                if case .failure(let error) = r { breakGroup("rank \(rank) failed: \(error)") }
                results.lock.lock(); results.values[rank] = r; results.lock.unlock()
                done.leave()
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        done.wait()
        let all = results.values.map { $0! }
        let errors = all.compactMap { r -> Error? in if case .failure(let e) = r { return e } else { return nil } }
        if let first = errors.first(where: { !isBroken($0) }) ?? errors.first { throw first }
        return try all.map { try $0.get() }
    }

    private func isBroken(_ error: Error) -> Bool {
        if case CollectiveError.broken = error { return true }
        return false
    }

    /// Marks the group failed and wakes every waiting member.
    public func breakGroup(_ reason: String) {
        condition.lock()
        if failure == nil { failure = reason }
        condition.broadcast()
        condition.unlock()
    }

    /// Every member deposits `value`; all get every member's deposit in rank order, after checking that all
    /// made the same call (sequence number and signature).
    func exchange(_ deposit: Deposit, rank: Int) throws -> [Any] {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw CollectiveError.broken(reason: failure) }
        let myGeneration = generation
        slots[rank] = deposit
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == myGeneration && failure == nil { condition.wait() }
            if generation == myGeneration, let failure { throw CollectiveError.broken(reason: failure) }
        }
        let all = slots.map { $0! }
        // Second barrier: nobody may overwrite a slot until everyone has read this round.
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            slots = Array(repeating: nil, count: size)
            condition.broadcast()
        } else {
            let g = generation
            while generation == g && failure == nil { condition.wait() }
            if generation == g, let failure { throw CollectiveError.broken(reason: failure) }
        }
        for (other, d) in all.enumerated() where d.sequence != deposit.sequence || d.signature != deposit.signature {
            throw CollectiveError.mismatch(rank: other, expected: "call \(deposit.sequence) \(deposit.signature)",
                                           got: "call \(d.sequence) \(d.signature)")
        }
        return all.map(\.value)
    }
}

/// Per-rank results written by the member threads.
private final class ResultSlots<T>: @unchecked Sendable {
    var values: [Result<T, Error>?]
    let lock = NSLock()
    init(_ n: Int) { values = Array(repeating: nil, count: n) }
}

/// One member's view of a `LocalGroup`. Used by one thread at a time (its stripe's compute thread).
public final class LocalCollective: Collective, @unchecked Sendable {
    let group: LocalGroup
    public let rank: Int
    public var size: Int { group.size }
    private var sequence = 0

    init(group: LocalGroup, rank: Int) {
        self.group = group
        self.rank = rank
    }

    private func exchange(_ signature: String, _ value: Any) throws -> [Any] {
        sequence += 1
        return try group.exchange(LocalGroup.Deposit(sequence: sequence, signature: signature, value: value), rank: rank)
    }

    public func exchangeRows(_ x: Tensor, sendUp: Int, sendDown: Int, receiveAbove: Int,
                             receiveBelow: Int) throws -> (above: Tensor, below: Tensor) {
        let (n, c, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
        let up = rank > 0 ? sendUp : 0, down = rank + 1 < size ? sendDown : 0
        guard up <= h, down <= h else {
            group.breakGroup("rank \(rank) cannot send \(max(up, down)) rows from a stripe of \(h)")
            throw CollectiveError.invalidStripe(reason: "rank \(rank) has \(h) rows; a neighbour needs \(max(up, down))")
        }
        let sent = RowsSent(top: x.slice(axis: 2, 0..<up), bottom: x.slice(axis: 2, (h - down)..<h))
        let all = try exchange("rows n=\(n) c=\(c) w=\(w)", sent).map { $0 as! RowsSent }
        func received(from other: Int, _ rows: Tensor, expected: Int) throws -> Tensor {
            guard rows.dim(2) == expected else {
                throw CollectiveError.mismatch(rank: other, expected: "\(expected) halo rows", got: "\(rows.dim(2))")
            }
            return rows
        }
        let above = rank > 0 ? try received(from: rank - 1, all[rank - 1].bottom, expected: receiveAbove)
            : Tensor(zeros: [n, c, receiveAbove, w])
        let below = rank + 1 < size ? try received(from: rank + 1, all[rank + 1].top, expected: receiveBelow)
            : Tensor(zeros: [n, c, receiveBelow, w])
        return (above, below)
    }

    public func allReduceSum(_ values: [Double], kind: CollectiveKind) throws -> [Double] {
        let all = try exchange("allReduce \(kind) \(values.count)", values).map { $0 as! [Double] }
        var sum = [Double](repeating: 0, count: values.count)
        for part in all { for i in 0..<sum.count { sum[i] += part[i] } }
        return sum
    }

    public func allGather(_ x: Tensor, axis: Int, kind: CollectiveKind) throws -> Tensor {
        var other = x.shape
        other[axis] = -1
        let all = try exchange("allGather \(kind) axis \(axis) \(other)", x).map { $0 as! Tensor }
        return Tensor.concat(all, axis: axis)
    }

    public func fetchRows(_ x: Tensor, axis: Int, plan: RowFetchPlan, kind: CollectiveKind) throws -> Tensor {
        do {
            try plan.check(x, axis: axis, rank: rank, size: size)
        } catch {
            group.breakGroup("rank \(rank): \(error)")
            throw error
        }
        var other = x.shape
        other[axis] = -1
        let all = try exchange("fetchRows \(kind) axis \(axis) \(other) \(plan)", x).map { $0 as! Tensor }
        // What rank o would send: its rows among this rank's needs, in this rank's order.
        return plan.assemble(rank: rank, axis: axis, local: x) { o in
            RowFetchPlan.select(plan.rows(from: o, to: rank), from: all[o], holding: [plan.stripes[o]], axis: axis)
        }
    }
}

private struct RowsSent {
    var top: Tensor
    var bottom: Tensor
}

extension Tensor {
    /// Stripe `rank` of `parts` equal horizontal stripes of an NCHW tensor (rows must divide evenly).
    public func stripe(_ rank: Int, of parts: Int) -> Tensor {
        let h = dim(2)
        precondition(h % parts == 0, "\(h) rows do not split into \(parts) equal stripes")
        let s = h / parts
        return slice(axis: 2, (rank * s)..<((rank + 1) * s))
    }

    /// The rows `rows[rank]` of an NCHW tensor split into consecutive stripes of the given heights.
    public func stripe(_ rank: Int, rows: [Int]) -> Tensor {
        let start = rows[..<rank].reduce(0, +)
        return slice(axis: 2, start..<(start + rows[rank]))
    }
}
