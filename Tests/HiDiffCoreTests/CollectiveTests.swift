import HiDiffCore
import HiDiffTestSupport
import XCTest

/// The sharding seam: ops run on horizontal stripes, reaching neighbours only through a `Collective`,
/// must reassemble to the whole-map result.
final class CollectiveTests: XCTestCase {
    private func striped(_ x: Tensor, parts: Int, _ op: @escaping (Tensor, any Collective) -> Tensor) -> Tensor {
        let group = LocalGroup(size: parts)
        let outs = group.run { rank, collective in op(x.stripe(rank, of: parts), collective) }
        return Tensor.concat(outs, axis: 2)
    }

    func testConvolutionsOnStripesEqualTheWholeMap() {
        var g = SplitMix(seed: 11)
        let x = g.tensor([2, 3, 24, 10])
        let w = g.tensor([4, 3, 3, 3]), b = g.tensor([4])
        let configs = [(1, 1, 1), (2, 1, 1), (4, 2, 2)]  // plain, downsampler, RAU-Net's RAD
        for parts in [2, 3] {
            for (s, p, d) in configs {
                let whole = x.conv2d(weight: w, bias: b, stride: s, padding: p, dilation: d)
                let got = striped(x, parts: parts) { t, c in
                    t.conv2d(weight: w, bias: b, stride: s, padding: p, dilation: d, collective: c)
                }
                XCTAssertEqual(got.shape, whole.shape, "K=\(parts) stride \(s)")
                XCTAssertLessThanOrEqual(relativeError(got, whole), 1e-6, "K=\(parts) stride \(s)")
            }
        }
    }

    func testGroupNormOnStripesUsesGlobalStatistics() {
        var g = SplitMix(seed: 5)
        let x = g.tensor([2, 8, 12, 6]) * 3 + 1
        let w = g.tensor([8]), b = g.tensor([8])
        let whole = x.groupNorm(groups: 4, weight: w, bias: b, eps: 1e-5)
        let got = striped(x, parts: 3) { t, c in t.groupNorm(groups: 4, weight: w, bias: b, eps: 1e-5, collective: c) }
        XCTAssertLessThanOrEqual(relativeError(got, whole), 1e-5)
    }

    func testSelfAttentionOnStripesGathersKeysAndValues() {
        var g = SplitMix(seed: 9)
        let x = g.tensor([1, 8, 12, 5])  // NCHW map; tokens are its pixels
        let whole = Tensor.attention(query: x.nchwToTokens(), key: x.nchwToTokens(), value: x.nchwToTokens(),
                                     heads: 2).tokensToNCHW(height: 12, width: 5)
        let got = striped(x, parts: 2) { t, c in
            let tok = t.nchwToTokens()
            return Tensor.attention(query: tok, key: tok, value: tok, heads: 2, collective: c)
                .tokensToNCHW(height: t.dim(2), width: 5)
        }
        XCTAssertLessThanOrEqual(relativeError(got, whole), 1e-6)
    }

    func testSingleShardIsTheIdentity() {
        var g = SplitMix(seed: 1)
        let x = g.tensor([1, 2, 4, 4])
        let s = SingleShard()
        XCTAssertEqual(s.allGather(x, axis: 2), x)
        XCTAssertEqual(s.allReduceSum([1, 2.5]), [1, 2.5])
        let halo = s.haloRows(x, above: 1, below: 2)
        XCTAssertEqual(halo.above, Tensor(zeros: [1, 2, 1, 4]))
        XCTAssertEqual(halo.below, Tensor(zeros: [1, 2, 2, 4]))
    }
}
