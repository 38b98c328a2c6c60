import Foundation

/// K stripes of one image in one process, each on its own thread, meeting at a barrier for every
/// collective call. It proves the sharding seam without a network and is the reference the TCP
/// transport must equal.
public final class LocalGroup: @unchecked Sendable {
    public let size: Int
    private let condition = NSCondition()
    private var slots: [Any?]
    private var arrived = 0
    private var generation = 0

    public init(size: Int) {
        precondition(size >= 1, "a group needs at least one member")
        self.size = size
        slots = Array(repeating: nil, count: size)
    }

    /// The collective of member `rank`.
    public func member(_ rank: Int) -> LocalCollective {
        precondition(rank >= 0 && rank < size, "rank \(rank) outside a group of \(size)")
        return LocalCollective(group: self, rank: rank)
    }

    /// Runs `body(rank, collective)` for every rank concurrently and returns the results in rank order.
    public func run<T>(_ body: @escaping (Int, LocalCollective) -> T) -> [T] {
        let results = ResultSlots<T>(size)
        let done = DispatchGroup()
        for rank in 0..<size {
            done.enter()
            let thread = Thread { [self] in
                let r = body(rank, member(rank))
                results.lock.lock(); results.values[rank] = r; results.lock.unlock()
                done.leave()
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        done.wait()
        return results.values.map { $0! }
    }

    /// Every member deposits `value`; all get every member's value in rank order.
    func exchange(_ value: Any, rank: Int) -> [Any] {
        condition.lock()
        defer { condition.unlock() }
        let myGeneration = generation
        slots[rank] = value
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == myGeneration { condition.wait() }
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
            while generation == g { condition.wait() }
        }
        return all
    }
}

/// Per-rank results written by the member threads.
private final class ResultSlots<T>: @unchecked Sendable {
    var values: [T?]
    let lock = NSLock()
    init(_ n: Int) { values = Array(repeating: nil, count: n) }
}

/// One member's view of a `LocalGroup`.
public struct LocalCollective: Collective, @unchecked Sendable {
    let group: LocalGroup
    public let rank: Int
    public var size: Int { group.size }

    public func haloRows(_ x: Tensor, above: Int, below: Int) -> (above: Tensor, below: Tensor) {
        let all = group.exchange(x, rank: rank).map { $0 as! Tensor }
        let (n, c, w) = (x.dim(0), x.dim(1), x.dim(3))
        func rows(_ t: Tensor?, _ range: (Int) -> Range<Int>, count: Int) -> Tensor {
            guard let t else { return Tensor(zeros: [n, c, count, w]) }
            precondition(t.dim(2) >= count, "halo of \(count) rows from a stripe of \(t.dim(2))")
            return t.slice(axis: 2, range(t.dim(2)))
        }
        let up = rank > 0 ? all[rank - 1] : nil
        let down = rank + 1 < size ? all[rank + 1] : nil
        return (rows(up, { ($0 - above)..<$0 }, count: above), rows(down, { _ in 0..<below }, count: below))
    }

    public func allReduceSum(_ values: [Double]) -> [Double] {
        let all = group.exchange(values, rank: rank).map { $0 as! [Double] }
        var sum = [Double](repeating: 0, count: values.count)
        for part in all { for i in 0..<sum.count { sum[i] += part[i] } }
        return sum
    }

    public func allGather(_ x: Tensor, axis: Int) -> Tensor {
        Tensor.concat(group.exchange(x, rank: rank).map { $0 as! Tensor }, axis: axis)
    }
}

extension Tensor {
    /// Stripe `rank` of `parts` equal horizontal stripes of an NCHW tensor (rows must divide evenly).
    public func stripe(_ rank: Int, of parts: Int) -> Tensor {
        let h = dim(2)
        precondition(h % parts == 0, "\(h) rows do not split into \(parts) equal stripes")
        let s = h / parts
        return slice(axis: 2, (rank * s)..<((rank + 1) * s))
    }
}
