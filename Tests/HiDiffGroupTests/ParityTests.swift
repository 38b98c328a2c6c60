import HiDiffCore
import HiDiffGroup
import HiDiffProtocol
import HiDiffTestSupport
import XCTest

/// The TCP transport gives the same bits as `LocalGroup` on the same stripes, for every op and layout.
final class ParityTests: XCTestCase {
    /// What one member's calls returned.
    struct Outputs: Sendable {
        var tensors: [Tensor] = []
        var doubles: [[Double]] = []
    }

    /// Stripe layouts for K members: equal, unequal, and the last stripe shorter. Every stripe has at least two
    /// rows, so it can send two rows to a neighbour.
    static func layouts(_ k: Int) -> [[Int]] {
        [Array(repeating: 3, count: k), Array([5, 2, 4, 3].prefix(k)), Array(repeating: 4, count: k - 1) + [2]]
    }

    /// Every kind of call, in the same order on every member.
    static func calls(_ x: Tensor, layout: [Int]) -> @Sendable (Int, any Collective) throws -> Outputs {
        { rank, c in
            let stripe = x.stripe(rank, rows: layout)
            var g = SplitMix(seed: UInt64(100 + rank))
            var out = Outputs()
            let halo = try c.haloRows(stripe, above: 1, below: 2)
            let none = try c.exchangeRows(stripe, sendUp: 0, sendDown: 0, receiveAbove: 0, receiveBelow: 0)
            let skew = try c.exchangeRows(stripe, sendUp: 2, sendDown: 1, receiveAbove: 1, receiveBelow: 2)
            out.tensors += [halo.above, halo.below, none.above, none.below, skew.above, skew.below]
            out.doubles.append(try c.stripeRows(stripe.dim(2)).map(Double.init))
            // Magnitudes that make the summation order visible, and a negative zero.
            let values = stripe.data.prefix(5).map(Double.init)
                + [1e16 * Double(rank + 1), 1, -1e16 * Double(rank % 2 == 0 ? 1 : -1), -0.0, Double(rank) / 3]
            out.doubles.append(try c.allReduceSum(values, kind: .norm))
            out.doubles.append(try c.allReduceSum([], kind: .norm))
            out.tensors.append(try c.allGather(stripe, axis: 2, kind: .latent))
            out.tensors.append(try c.allGather(g.tensor([rank % 2 + 1, 3, 2]), axis: 0, kind: .geometry))
            out.tensors.append(try c.allGather(g.tensor([2, rank + 1, 3]), axis: 1, kind: .attention))
            out.tensors.append(try c.allGather(g.tensor([2, 3, rank, 2]), axis: 2, kind: .image))
            out.tensors.append(try c.allGather(Tensor(zeros: [0, 4]), axis: 1, kind: .attention))
            return out
        }
    }

    private func assertSame(_ tcp: [Outputs], _ local: [Outputs], _ label: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(tcp.count, local.count, label, file: file, line: line)
        for (rank, (t, l)) in zip(tcp, local).enumerated() {
            XCTAssertEqual(t.tensors.count, l.tensors.count, file: file, line: line)
            for (i, (a, b)) in zip(t.tensors, l.tensors).enumerated() {
                assertSameBits(a, b, "\(label) rank \(rank) tensor \(i)", file: file, line: line)
            }
            XCTAssertEqual(t.doubles.count, l.doubles.count, file: file, line: line)
            for (i, (a, b)) in zip(t.doubles, l.doubles).enumerated() {
                assertSameBits(a, b, "\(label) rank \(rank) values \(i)", file: file, line: line)
            }
        }
    }

    private func checkParity(chunkBytes: Int) throws {
        for k in 1...4 {
            let group = try LoopbackGroup(size: k)
            for layout in Self.layouts(k) {
                var g = SplitMix(seed: UInt64(k * 10 + layout.count))
                let x = g.tensor([2, 3, layout.reduce(0, +), 5])
                let body = Self.calls(x, layout: layout)
                let local = try LocalGroup(size: k).run { rank, c in try body(rank, c) }
                let tcp = try group.values(configuration: .init(callTimeout: 5, chunkBytes: chunkBytes)) { rank, c in
                    try body(rank, c)
                }
                assertSame(tcp, local, "K=\(k) layout \(layout) chunk \(chunkBytes)")
                // The stripes gathered along the rows are the whole map on every member.
                for out in tcp { assertSameBits(out.tensors[6], x, "K=\(k) layout \(layout)") }
            }
        }
    }

    func testEveryCallMatchesLocalGroupBitForBit() throws {
        try checkParity(chunkBytes: PeerData.maxChunkBytes)
    }

    func testSmallChunksReassembleToTheSameBits() throws {
        // 24 bytes: 6 floats or 3 doubles per message, so blocks split unevenly and are forwarded chunk by chunk.
        try checkParity(chunkBytes: 24)
    }

    func testTwoGroupsOnTheSameListenersDoNotDisturbEachOther() throws {
        let group = try LoopbackGroup(size: 3)
        var g = SplitMix(seed: 3)
        let x = g.tensor([1, 2, 9, 4]), y = g.tensor([1, 2, 9, 4])
        let layout = [3, 3, 3]
        let local = try LocalGroup(size: 3).run { rank, c in try Self.calls(x, layout: layout)(rank, c) }
        let localY = try LocalGroup(size: 3).run { rank, c in try Self.calls(y, layout: layout)(rank, c) }
        // Six threads: two groups of three over the same three listeners, at the same time.
        let results = onThreads(6) { i in
            let (rank, id) = (i % 3, UInt64(1000 + i / 3))
            let c = try TCPCollective.joinBlocking(roster: try group.roster(rank, group: id), listener: group.listeners[rank],
                                                   token: groupToken, timeout: 10,
                                                   configuration: .init(callTimeout: 5, chunkBytes: 40), logger: testLogger)
            defer { c.close() }
            return try Self.calls(i < 3 ? x : y, layout: layout)(rank, c)
        }
        let outs = try results.map { try XCTUnwrap($0).get() }
        assertSame(Array(outs[0..<3]), local, "group 1000")
        assertSame(Array(outs[3..<6]), localY, "group 1001")
    }
}
