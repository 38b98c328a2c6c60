import HiDiffCore
import HiDiffTestSupport
import XCTest

/// The sharding seam: ops run on horizontal stripes, reaching neighbours only through a `Collective`,
/// must reassemble to the whole-map result, for every stripe layout the planner makes (equal stripes and
/// a shorter last one), and a group whose members disagree must fail on every member, never hang.
final class CollectiveTests: XCTestCase {
    private let layouts = [[12, 12], [8, 8, 8], [16, 8], [8, 12, 4], [4, 4, 8, 8]]  // each sums to 24

    private func striped(_ x: Tensor, rows: [Int], _ op: @escaping (Tensor, any Collective) throws -> Tensor) throws -> Tensor {
        let outs = try LocalGroup(size: rows.count).run { rank, collective in try op(x.stripe(rank, rows: rows), collective) }
        return Tensor.concat(outs, axis: 2)
    }

    func testConvolutionsOnStripesEqualTheWholeMap() throws {
        var g = SplitMix(seed: 11)
        let x = g.tensor([2, 3, 24, 10])
        let w3 = g.tensor([4, 3, 3, 3]), w1 = g.tensor([4, 3, 1, 1]), b = g.tensor([4])
        // plain, downsampler, RAU-Net's RAD, pointwise
        let configs: [(Tensor, Int, Int, Int)] = [(w3, 1, 1, 1), (w3, 2, 1, 1), (w3, 4, 2, 2), (w1, 1, 0, 1)]
        for rows in layouts {
            for (w, s, p, d) in configs {
                let whole = x.conv2d(weight: w, bias: b, stride: s, padding: p, dilation: d)
                let got = try striped(x, rows: rows) { t, c in
                    try t.conv2d(weight: w, bias: b, stride: s, padding: p, dilation: d, collective: c)
                }
                XCTAssertEqual(got.shape, whole.shape, "\(rows) stride \(s)")
                XCTAssertLessThanOrEqual(relativeError(got, whole), 1e-6, "\(rows) stride \(s) dilation \(d)")
            }
            // The VAE encoder's downsampler: padding on the bottom and right only.
            let whole = x.padded(top: 0, bottom: 1, left: 0, right: 1).conv2d(weight: w3, bias: b, stride: 2)
            let got = try striped(x, rows: rows) { t, c in
                try t.conv2d(weight: w3, bias: b, stride: 2, padTop: 0, padBottom: 1, padLeft: 0, padRight: 1,
                             dilation: 1, collective: c)
            }
            XCTAssertLessThanOrEqual(relativeError(got, whole), 1e-6, "\(rows) asymmetric")
        }
        // An odd global height: the last stripe is odd, the stride-2 conv's last row reads the zero border.
        let odd = g.tensor([1, 3, 21, 6])
        let whole = odd.conv2d(weight: w3, bias: b, stride: 2, padding: 1)
        let got = try striped(odd, rows: [8, 13]) { t, c in try t.conv2d(weight: w3, bias: b, stride: 2, padding: 1, collective: c) }
        XCTAssertEqual(got.shape, whole.shape)
        XCTAssertLessThanOrEqual(relativeError(got, whole), 1e-6)
    }

    func testGroupNormOnStripesUsesGlobalStatistics() throws {
        var g = SplitMix(seed: 5)
        let x = g.tensor([2, 8, 24, 6]) * 3 + 1
        let w = g.tensor([8]), b = g.tensor([8])
        let whole = x.groupNorm(groups: 4, weight: w, bias: b, eps: 1e-5)
        for rows in layouts {
            let got = try striped(x, rows: rows) { t, c in try t.groupNorm(groups: 4, weight: w, bias: b, eps: 1e-5, collective: c) }
            XCTAssertLessThanOrEqual(relativeError(got, whole), 1e-5, "\(rows)")
        }
    }

    /// GroupNorm with SiLU in its output pass equals the two passes bit for bit (the scalar exp of plane tails is
    /// the vector one's lane), on the whole map and on stripes; planes of 15 and 144 elements cover both loops.
    func testGroupNormWithSiLUEqualsGroupNormThenSiLUExactly() throws {
        var g = SplitMix(seed: 6)
        for shape in [[2, 8, 24, 6], [1, 4, 5, 3]] {
            let x = g.tensor(shape) * 3 + 1
            let w = g.tensor([shape[1]]), b = g.tensor([shape[1]])
            let twoPasses = x.groupNorm(groups: 4, weight: w, bias: b, eps: 1e-5).silu()
            let fused = x.groupNormSiLU(groups: 4, weight: w, bias: b, eps: 1e-5)
            XCTAssertEqual(fused.shape, twoPasses.shape)
            XCTAssertEqual(fused.data, twoPasses.data, "\(shape)")
            XCTAssertGreaterThan(twoPasses.data.filter { $0 < 0 }.count, 0, "SiLU's negative side is exercised")
        }
        let x = g.tensor([2, 8, 24, 6]) * 3 + 1
        let w = g.tensor([8]), b = g.tensor([8])
        for rows in layouts {
            let twoPasses = try striped(x, rows: rows) { t, c in
                try t.groupNorm(groups: 4, weight: w, bias: b, eps: 1e-5, collective: c).silu()
            }
            let fused = try striped(x, rows: rows) { t, c in
                try t.groupNormSiLU(groups: 4, weight: w, bias: b, eps: 1e-5, collective: c)
            }
            XCTAssertEqual(fused.data, twoPasses.data, "\(rows)")
        }
    }

    func testSelfAttentionOnStripesGathersKeysAndValues() throws {
        var g = SplitMix(seed: 9)
        let x = g.tensor([1, 8, 24, 5])  // NCHW map; tokens are its pixels
        let whole = Tensor.attention(query: x.nchwToTokens(), key: x.nchwToTokens(), value: x.nchwToTokens(),
                                     heads: 2).tokensToNCHW(height: 24, width: 5)
        for rows in layouts {
            let got = try striped(x, rows: rows) { t, c in
                let tok = t.nchwToTokens()
                return try Tensor.attention(query: tok, key: tok, value: tok, heads: 2, collective: c)
                    .tokensToNCHW(height: t.dim(2), width: 5)
            }
            XCTAssertLessThanOrEqual(relativeError(got, whole), 1e-6, "\(rows)")
        }
    }

    /// Resizes whose output stripes read source rows in a neighbour's stripe: bicubic (RAU-Net's restore,
    /// 2 rows each side), nearest at a non-integer scale, and the pool.
    func testResizesOnStripesEqualTheWholeMap() throws {
        var g = SplitMix(seed: 3)
        let x = g.tensor([2, 3, 12, 7])
        for rows in [[6, 6], [4, 4, 4], [8, 4], [2, 4, 6]] {
            let outRows = rows.map { 2 * $0 }
            let bicubic = try LocalGroup(size: rows.count).run { rank, c in
                try x.stripe(rank, rows: rows).resizeBicubic(height: outRows[rank], width: 13, collective: c)
            }
            let wholeBicubic = x.resizeBicubic(height: 24, width: 13)
            XCTAssertEqual(Tensor.concat(bicubic, axis: 2), wholeBicubic, "bicubic \(rows)")
            // 12 -> 23 rows: not an integer scale; the last stripe gives up one row.
            var nearestRows = outRows
            nearestRows[nearestRows.count - 1] -= 1
            let nearest = try LocalGroup(size: rows.count).run { rank, c in
                try x.stripe(rank, rows: rows).upsampleNearest(height: nearestRows[rank], width: 14, collective: c)
            }
            XCTAssertEqual(Tensor.concat(nearest, axis: 2), x.upsampleNearest(height: 23, width: 14), "nearest \(rows)")
            let pooled = try striped(x, rows: rows) { t, c in try t.avgPool2x2CeilMode(collective: c) }
            XCTAssertEqual(pooled, x.avgPool2x2CeilMode(), "pool \(rows)")
        }
        // Bicubic shrink back (op C restores the pre-pool size from the pooled map).
        let small = g.tensor([1, 2, 6, 5])
        let back = try LocalGroup(size: 2).run { rank, c in
            try small.stripe(rank, rows: [4, 2]).resizeBicubic(height: [8, 3][rank], width: 9, collective: c)
        }
        XCTAssertEqual(Tensor.concat(back, axis: 2), small.resizeBicubic(height: 11, width: 9))
    }

    func testMembersThatDisagreeFailEveryMemberWithoutHanging() {
        var g = SplitMix(seed: 2)
        let x = g.tensor([1, 2, 8, 4])
        // Rank 1 gathers where rank 0 reduces: a protocol mismatch on both.
        XCTAssertThrowsError(try LocalGroup(size: 2).run { rank, c -> Int in
            if rank == 0 { _ = try c.allReduceSum([1], kind: .norm) } else { _ = try c.allGather(x, axis: 2, kind: .latent) }
            return rank
        }) { error in
            guard case CollectiveError.mismatch = error else { return XCTFail("\(error)") }
        }
        // A rank that fails outside the collective breaks the group; the others stop at their next call.
        struct Boom: Error {}
        XCTAssertThrowsError(try LocalGroup(size: 3).run { rank, c -> Int in
            if rank == 2 { throw Boom() }
            _ = try c.haloRows(x, above: 1, below: 1)
            return rank
        }) { error in XCTAssertTrue(error is Boom, "\(error)") }
        // Halo counts that do not pair up are refused.
        XCTAssertThrowsError(try LocalGroup(size: 2).run { rank, c -> Int in
            _ = try c.exchangeRows(x, sendUp: 1, sendDown: 1, receiveAbove: rank == 1 ? 2 : 1, receiveBelow: 1)
            return rank
        }) { error in
            guard case CollectiveError.mismatch = error else { return XCTFail("\(error)") }
        }
        // A stripe too short for what its neighbour needs.
        XCTAssertThrowsError(try LocalGroup(size: 2).run { rank, c -> Int in
            _ = try c.haloRows(x, above: 9, below: 9)
            return rank
        }) { error in
            guard case CollectiveError.invalidStripe = error else { return XCTFail("\(error)") }
        }
    }

    func testSingleShardIsTheIdentity() throws {
        var g = SplitMix(seed: 1)
        let x = g.tensor([1, 2, 4, 4])
        let s = SingleShard()
        XCTAssertEqual(try s.allGather(x, axis: 2, kind: .latent), x)
        XCTAssertEqual(try s.allReduceSum([1, 2.5], kind: .norm), [1, 2.5])
        let halo = try s.haloRows(x, above: 1, below: 2)
        XCTAssertEqual(halo.above, Tensor(zeros: [1, 2, 1, 4]))
        XCTAssertEqual(halo.below, Tensor(zeros: [1, 2, 2, 4]))
    }
}
