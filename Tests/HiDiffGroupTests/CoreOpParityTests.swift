import HiDiffCore
import HiDiffGroup
import HiDiffTestSupport
import XCTest

/// The engine's striped ops through TCP give the same bits as through `LocalGroup`.
final class CoreOpParityTests: XCTestCase {
    /// Stripe layouts whose stripes (but the last) hold a multiple of 2 rows, for the stride-2 convolution.
    private static let layouts: [[Int]] = [[10], [6, 4], [4, 4, 2], [2, 4, 2, 2], [4, 2, 2, 4]]

    private func compare(_ name: String, _ makeInput: (inout SplitMix, Int) -> Tensor,
                         _ op: @escaping @Sendable (Tensor, any Collective) throws -> Tensor) throws {
        for layout in Self.layouts {
            var g = SplitMix(seed: UInt64(layout.count * 7 + layout[0]))
            let x = makeInput(&g, layout.reduce(0, +))
            let k = layout.count
            let local = try LocalGroup(size: k).run { rank, c in try op(x.stripe(rank, rows: layout), c) }
            let group = try LoopbackGroup(size: k)
            let tcp = try group.values { rank, c in try op(x.stripe(rank, rows: layout), c) }
            for rank in 0..<k { assertSameBits(tcp[rank], local[rank], "\(name) layout \(layout) rank \(rank)") }
        }
    }

    func testConvolutions() throws {
        var g = SplitMix(seed: 21)
        let w = g.tensor([4, 3, 3, 3]), b = g.tensor([4])
        let w1 = g.tensor([2, 3, 1, 1])
        let input: (inout SplitMix, Int) -> Tensor = { g, h in g.tensor([2, 3, h, 6]) }
        for (s, p, d) in [(1, 1, 1), (2, 1, 1), (1, 2, 2)] {
            try compare("conv s\(s) p\(p) d\(d)", input) { x, c in
                try x.conv2d(weight: w, bias: b, stride: s, padding: p, dilation: d, collective: c)
            }
        }
        try compare("conv 1x1", input) { x, c in try x.conv2d(weight: w1, bias: nil, collective: c) }
    }

    func testGroupNorm() throws {
        var g = SplitMix(seed: 22)
        let w = g.tensor([8]), b = g.tensor([8])
        try compare("groupNorm", { g, h in g.tensor([2, 8, h, 5]) * 3 + 1 }) { x, c in
            try x.groupNorm(groups: 4, weight: w, bias: b, eps: 1e-5, collective: c)
        }
    }

    func testSelfAttention() throws {
        try compare("attention", { g, h in g.tensor([1, 8, h, 3]) }) { x, c in
            let tokens = x.nchwToTokens()
            return try Tensor.attention(query: tokens, key: tokens, value: tokens, heads: 2, collective: c)
        }
    }

    func testFetchRows() throws {
        var g = SplitMix(seed: 24)
        for trial in 0..<24 {
            let size = 2 + trial % 5
            let plan = RowFetchPlan.random(size: size, using: &g)
            let map = g.tensor([2, plan.height, 3])
            let op: @Sendable (Int, any Collective) throws -> Tensor = { rank, c in
                try c.fetchRows(map.slice(axis: 1, plan.stripes[rank]), axis: 1, plan: plan, kind: .attention)
            }
            let local = try LocalGroup(size: size).run(op)
            let tcp = try LoopbackGroup(size: size).values(configuration: .init(callTimeout: 5, chunkBytes: 16), op)
            for rank in 0..<size { assertSameBits(tcp[rank], local[rank], "\(plan) rank \(rank)") }
        }
    }

    func testAChainOfOpsLikeAResnetBlock() throws {
        var g = SplitMix(seed: 23)
        let w1 = g.tensor([4, 4, 3, 3]), w2 = g.tensor([4, 4, 3, 3])
        let gw = g.tensor([4]), gb = g.tensor([4])
        try compare("resnet-like", { g, h in g.tensor([1, 4, h, 7]) }) { x, c in
            var y = try x.groupNorm(groups: 2, weight: gw, bias: gb, eps: 1e-6, collective: c)
            y = try y.conv2d(weight: w1, bias: nil, stride: 1, padding: 1, dilation: 1, collective: c)
            y = try y.groupNorm(groups: 2, weight: gw, bias: gb, eps: 1e-6, collective: c)
            y = try y.conv2d(weight: w2, bias: nil, stride: 1, padding: 1, dilation: 1, collective: c)
            let t = y.nchwToTokens()
            return try Tensor.attention(query: t, key: t, value: t, heads: 1, collective: c)
        }
    }
}
