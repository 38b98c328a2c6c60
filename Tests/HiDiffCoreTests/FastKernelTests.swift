import HiDiffCore
import HiDiffTestSupport
import XCTest

/// The fast paths the torch fixtures are too small to reach: Winograd 3x3 convolutions (large maps), tiled
/// attention with several key blocks (long sequences), the tiled transpose, the vectorised exp and erf.
/// Each is checked against a plain double-precision evaluation of the definition.
final class FastKernelTests: XCTestCase {
    /// torch F.conv2d by its definition, accumulated in Double.
    private func directConv(_ x: Tensor, _ w: Tensor, _ b: Tensor, padding p: Int) -> Tensor {
        let (n, c, h, wd) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
        let o = w.dim(0)
        let ho = h + 2 * p - 2, wo = wd + 2 * p - 2
        var out = [Float](repeating: 0, count: n * o * ho * wo)
        for bi in 0..<n {
            for oc in 0..<o {
                for y in 0..<ho {
                    for xx in 0..<wo {
                        var acc = Double(b.data[oc])
                        for ci in 0..<c {
                            for i in 0..<3 {
                                for j in 0..<3 {
                                    let iy = y - p + i, ix = xx - p + j
                                    guard iy >= 0 && iy < h && ix >= 0 && ix < wd else { continue }
                                    acc += Double(x.data[((bi * c + ci) * h + iy) * wd + ix])
                                        * Double(w.data[((oc * c + ci) * 3 + i) * 3 + j])
                                }
                            }
                        }
                        out[((bi * o + oc) * ho + y) * wo + xx] = Float(acc)
                    }
                }
            }
        }
        return Tensor(shape: [n, o, ho, wo], data: out)
    }

    func testWinogradConvolutionMatchesTheDefinition() {
        var g = SplitMix(seed: 21)
        // At least 32 input channels and 512 output pixels (the Winograd path). Even and odd maps, padding 1 and 0 (odd output sizes drop a tile's last row/column).
        for (shape, padding) in [([2, 32, 24, 20], 1), ([1, 33, 23, 27], 1), ([2, 40, 25, 19], 0)] {
            let x = g.tensor(shape)
            let w = g.tensor([9, shape[1], 3, 3]), b = g.tensor([9])
            let got = x.conv2d(weight: w, bias: b, padding: padding)
            let want = directConv(x, w, b, padding: padding)
            XCTAssertEqual(got.shape, want.shape)
            XCTAssertLessThanOrEqual(relativeError(got, want), 1e-6, "\(shape) padding \(padding)")
        }
    }

    func testWinogradConvolutionOnStripesEqualsTheWholeMap() throws {
        var g = SplitMix(seed: 22)
        let x = g.tensor([2, 32, 32, 24])
        let w = g.tensor([5, 32, 3, 3]), b = g.tensor([5])
        let whole = x.conv2d(weight: w, bias: b, padding: 1)
        let group = LocalGroup(size: 2)
        let parts = try group.run { rank, collective in
            try x.slice(axis: 2, (rank * 16)..<((rank + 1) * 16)).conv2d(weight: w, bias: b, padding: 1,
                                                                     collective: collective)
        }
        XCTAssertLessThanOrEqual(relativeError(Tensor.concat(parts, axis: 2), whole), 1e-6)
    }

    /// `referenceAttention` as a float32 tensor of the query's shape.
    private func directAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, causal: Bool) -> Tensor {
        Tensor(shape: [q.dim(0), q.dim(1), v.dim(2)],
               data: referenceAttention(q, k, v, heads: heads, causal: causal).map { Float($0) })
    }

    func testTiledAttentionWithSeveralKeyBlocksMatchesTheDefinition() {
        var g = SplitMix(seed: 23)
        // 2500 keys: three key blocks of the online softmax; scores spread so the running max changes. Heads of
        // 32, wider than `narrowAttention` takes, so the tiled products run.
        let q = g.tensor([1, 70, 64]) * 3, k = g.tensor([1, 2500, 64]) * 3, v = g.tensor([1, 2500, 64])
        let got = Tensor.attention(query: q, key: k, value: v, heads: 2)
        XCTAssertLessThanOrEqual(relativeError(got, directAttention(q, k, v, heads: 2, causal: false)), 1e-5)
        let qc = g.tensor([1, 1100, 48]), kc = g.tensor([1, 1100, 48]), vc = g.tensor([1, 1100, 48])
        let causal = Tensor.attention(query: qc, key: kc, value: vc, heads: 2, causal: true)
        XCTAssertLessThanOrEqual(relativeError(causal, directAttention(qc, kc, vc, heads: 2, causal: true)), 1e-5)
    }

    func testPermutesMatchTheIndexDefinition() {
        var g = SplitMix(seed: 24)
        let x = g.tensor([2, 37, 5, 41])
        let t = x.permuted([0, 2, 3, 1])
        XCTAssertEqual(t.shape, [2, 5, 41, 37])
        for (b, c, y, xx) in [(0, 0, 0, 0), (1, 36, 4, 40), (1, 17, 2, 33), (0, 5, 3, 7)] {
            XCTAssertEqual(t.data[((b * 5 + y) * 41 + xx) * 37 + c], x.data[((b * 37 + c) * 5 + y) * 41 + xx])
        }
        XCTAssertEqual(t.permuted([0, 3, 1, 2]), x)
    }

    func testVectorisedExpAndErf() {
        var worstExp: Float = 0, worstGelu: Float = 0
        for i in 0..<20_000 {
            let x = Float(i - 10_000) * 0.0087  // [-87, 87)
            let e = Double(fastExp(x)), r = Foundation.exp(Double(x))
            worstExp = max(worstExp, Float(abs(e - r) / r))
            let gx = Float(i - 10_000) * 0.001  // [-10, 10)
            let gr = 0.5 * Double(gx) * (1 + erf(Double(gx) / 2.0.squareRoot()))
            worstGelu = max(worstGelu, Float(abs(Double(fastGelu(gx)) - gr)))
        }
        XCTAssertLessThanOrEqual(worstExp, 2e-7)
        XCTAssertLessThanOrEqual(worstGelu, 1e-6)
    }
}
