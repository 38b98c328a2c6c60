import HiDiffCore
import HiDiffTestSupport
import XCTest

/// Linear layers, convolutions and attention with `--precision bf16`: each equals the float32 kernel run on
/// the same inputs rounded to bfloat16, within float32's summation error (linear, convolution: the products
/// of two bfloat16 values are exact) or within the bound the rounding of attention's softmax weights allows.
final class BFloat16LayerTests: XCTestCase {
    func testWeightsAreKeptRoundedInHalfTheBytes() {
        var g = SplitMix(seed: 71)
        let w = g.tensor([24, 40])
        let kept = LayerWeight(w, precision: .bf16)
        XCTAssertEqual(kept.precision, .bf16)
        XCTAssertEqual(kept.shape, [24, 40])
        XCTAssertEqual(kept.byteCount, 24 * 40 * 2)
        XCTAssertEqual(LayerWeight(w).byteCount, 24 * 40 * 4)
        guard case let .bfloat16(bits) = kept.storage else { return XCTFail("stored as float32") }
        XCTAssertEqual(bits, w.data.map(bfloat16Bits))
        XCTAssertEqual(kept.float32.data, w.data.map { floatFromBFloat16(bfloat16Bits($0)) })
        XCTAssertGreaterThan(w.maxAbsDifference(kept.float32), 0, "rounding changed something")
        // The vector conversion equals the scalar rule on every kind of value, at every offset.
        let specials: [Float] = [0, -0.0, 1 + 0x1p-8, 1 + 3 * 0x1p-8, .infinity, -.infinity, .nan,
                                 .greatestFiniteMagnitude, 0x1p-130, -3.3e38]
        let values = (0..<37).flatMap { _ in specials } + (0..<100).map { _ in g.next() * 1e5 }
        XCTAssertEqual(Tensor(shape: [values.count], data: values).bfloat16Bits(), values.map(bfloat16Bits))
    }

    /// A bias per column: oneDNN adds it in its epilogue, the by-conversion path (CPUs without a bfloat16
    /// matmul) seeds C with it; both equal the product plus the bias.
    func testProductBiasIsAddedPerColumnOnBothPaths() {
        var g = SplitMix(seed: 76)
        let (m, n, k) = (37, 70, 48)
        let a = g.tensor([m, k]).bfloat16Bits(), b = g.tensor([n, k]).bfloat16Bits(), bias = g.tensor([n]).data
        var plain = [Float](repeating: 0, count: m * n), fused = plain, converted = plain
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                bias.withUnsafeBufferPointer { pbias in
                    plain.withUnsafeMutableBufferPointer {
                        bfloat16GEMM(transB: true, m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!,
                                     ldb: k, c: $0.baseAddress!, ldc: n)
                    }
                    fused.withUnsafeMutableBufferPointer {
                        bfloat16GEMM(transB: true, m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!,
                                     ldb: k, c: $0.baseAddress!, ldc: n, bias: pbias.baseAddress!)
                    }
                    converted.withUnsafeMutableBufferPointer {
                        BFloat16GEMM.gemmByConversion(transB: true, m: m, n: n, k: k, a: pa.baseAddress!, lda: k,
                                                      b: pb.baseAddress!, ldb: k, c: $0.baseAddress!, ldc: n,
                                                      bias: pbias.baseAddress!)
                    }
                }
            }
        }
        let want = (0..<(m * n)).map { plain[$0] + bias[$0 % n] }
        let scale = want.map(abs).max()!
        for (name, got) in [("oneDNN", fused), ("by conversion", converted)] {
            let worst = zip(got, want).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, scale * 1e-6, name)
        }
    }

    func testLinearEqualsFloat32OnRoundedInputs() {
        var g = SplitMix(seed: 72)
        // Shapes below and above the size where the product is split over the cores.
        for (rows, inF, outF) in [(3, 7, 5), (2 * 77, 40, 96), (4096, 64, 160)] {
            let x = g.tensor([2, rows / 2 + rows % 2, inF]), w = g.tensor([outF, inF]), b = g.tensor([outF])
            for bias in [b, nil] {
                let got = x.linear(weight: LayerWeight(w, precision: .bf16), bias: bias)
                let want = x.roundedToBFloat16().linear(weight: w.roundedToBFloat16(), bias: bias)
                XCTAssertLessThanOrEqual(relativeError(got, want), 1e-5, "\(rows)x\(inF)->\(outF) bias \(bias != nil)")
            }
        }
    }

    /// The fused bfloat16 feed-forward (blocks of rows, GEGLU written straight to bfloat16) against the three
    /// layers one after another: row counts below one block, across several blocks with a partial last one
    /// on each core, with and without biases.
    func testFusedFeedForwardEqualsTheLayersOneAfterAnother() {
        var g = SplitMix(seed: 77)
        let (dim, inner) = (40, 96)
        let w1 = g.tensor([2 * inner, dim]), w2 = g.tensor([dim, inner])
        let b1 = g.tensor([2 * inner]), b2 = g.tensor([dim])
        let (k1, k2) = (LayerWeight(w1, precision: .bf16), LayerWeight(w2, precision: .bf16))
        for tokens in [1, 77, Tensor.feedForwardBlockRows * 2 + 13] {
            let x = g.tensor([2, tokens, dim])
            for (p1, p2) in [(b1, b2), (nil, nil)] as [(Tensor?, Tensor?)] {
                let got = x.feedForwardGEGLU(proj: k1, projBias: p1, out: k2, outBias: p2)
                let layers = x.linear(weight: k1, bias: p1).geglu().linear(weight: k2, bias: p2)
                XCTAssertEqual(got.shape, [2, tokens, dim])
                XCTAssertLessThanOrEqual(relativeError(got, layers), 1e-6, "\(tokens) tokens, bias \(p1 != nil)")
                // And float32's layers, within the rounding of the inputs and of GEGLU's output.
                let float32 = x.feedForwardGEGLU(proj: LayerWeight(w1), projBias: p1, out: LayerWeight(w2), outBias: p2)
                XCTAssertLessThanOrEqual(relativeError(got, float32), 2e-2, "\(tokens) tokens against float32")
                XCTAssertGreaterThan(relativeError(got, float32), 1e-5, "bfloat16 rounding happened")
            }
        }
    }

    func testConvolutionEqualsFloat32OnRoundedInputs() {
        var g = SplitMix(seed: 73)
        // (batch, in, out, size, kernel, stride, padding, dilation): 1x1, 3x3 with and without stride and
        // dilation, odd sizes, and one large enough to be split over the cores.
        let cases = [(1, 3, 5, 9, 1, 1, 0, 1), (2, 6, 4, 11, 3, 1, 1, 1), (1, 5, 7, 13, 3, 2, 1, 1),
                     (2, 4, 6, 12, 3, 1, 2, 2), (1, 64, 64, 32, 3, 1, 1, 1), (2, 8, 3, 10, 3, 2, 0, 1)]
        for (n, c, o, size, k, s, p, d) in cases {
            let x = g.tensor([n, c, size, size + 1]), w = g.tensor([o, c, k, k]), b = g.tensor([o])
            let got = x.conv2d(weight: LayerWeight(w, precision: .bf16), bias: b, stride: s, padding: p, dilation: d)
            let want = x.roundedToBFloat16().conv2d(weight: w.roundedToBFloat16(), bias: b, stride: s, padding: p,
                                                    dilation: d)
            XCTAssertLessThanOrEqual(relativeError(got, want), 2e-5, "conv \(n)x\(c)->\(o) \(size)px k\(k) s\(s) p\(p) d\(d)")
        }
    }

    /// oneDNN's convolution (AMX on this CPU) on SD-like shapes: two images (one per core) and one image cut
    /// into bands of rows, a stride-2 one; equal to float32 on the rounded inputs, and the weight reordered
    /// into oneDNN's layout once and kept.
    func testOneDNNConvolutionEqualsFloat32OnRoundedInputsAndKeepsItsWeights() {
        var g = SplitMix(seed: 78)
        for (n, c, o, size, s) in [(2, 64, 48, 20, 1), (1, 32, 64, 17, 1), (2, 32, 32, 16, 2)] {
            let x = g.tensor([n, c, size, size + 3]), w = g.tensor([o, c, 3, 3]), b = g.tensor([o])
            let kept = LayerWeight(w, precision: .bf16)
            XCTAssertEqual(kept.convolutionLayoutBytes, 0)
            let want = x.roundedToBFloat16().conv2d(weight: w.roundedToBFloat16(), bias: b, stride: s, padding: 1)
            var copyBytes: [Int] = []
            for _ in 0..<2 {
                let got = x.conv2d(weight: kept, bias: b, stride: s, padding: 1)
                XCTAssertLessThanOrEqual(relativeError(got, want), 2e-6, "\(n)x\(c)->\(o) \(size)px s\(s)")
                copyBytes.append(kept.convolutionLayoutBytes)
            }
            if BFloat16GEMM.isNative {
                // Blocked layouts pad the output channels to whole tiles (48 -> 64).
                XCTAssertGreaterThanOrEqual(copyBytes[0], kept.byteCount, "a copy in oneDNN's layout")
                XCTAssertLessThanOrEqual(copyBytes[0], kept.byteCount * 2, "one copy")
                XCTAssertEqual(copyBytes[1], copyBytes[0], "made once")
            }
        }
    }

    func testTransposeToBFloat16EqualsTransposeThenRounding() {
        var g = SplitMix(seed: 79)
        for (batch, rows, cols) in [(1, 1, 1), (2, 33, 70), (3, 64, 31)] {
            let x = g.tensor([batch, rows, cols])
            var plain = [Float](repeating: 0, count: x.count), bits = [UInt16](repeating: 0, count: x.count)
            x.data.withUnsafeBufferPointer { src in
                transposeBatched(src.baseAddress!, &plain, batch: batch, rows: rows, cols: cols)
                transposeBatchedToBFloat16(src.baseAddress!, &bits, batch: batch, rows: rows, cols: cols)
            }
            XCTAssertEqual(bits, plain.map(bfloat16Bits), "\(batch)x\(rows)x\(cols)")
        }
    }

    func testStripedConvolutionEqualsTheWholeMapInBFloat16() throws {
        var g = SplitMix(seed: 74)
        let x = g.tensor([2, 8, 23, 10]), w = LayerWeight(g.tensor([6, 8, 3, 3]), precision: .bf16)
        let b = g.tensor([6])
        let whole = x.conv2d(weight: w, bias: b, padding: 1)
        let rows = [8, 8, 7]
        let parts = try LocalGroup(size: 3).run { rank, collective in
            try x.stripe(rank, rows: rows).conv2d(weight: w, bias: b, padding: 1, collective: collective)
        }
        XCTAssertLessThanOrEqual(relativeError(Tensor.concat(parts, axis: 2), whole), 1e-6)
    }

    /// Q, K and V rounded as the bfloat16 path rounds them, and the softmax weights rounded before they
    /// multiply V: each output is a weighted mean of V's rows whose weights are off by at most 2^-9 relative,
    /// so it is within 2^-9 max|V| of the float32 attention of the rounded inputs (plus float32 noise).
    func testAttentionIsWithinTheWeightRoundingOfFloat32() {
        var g = SplitMix(seed: 75)
        // (batch, queries, keys, channels, value channels, heads, causal): heads of 40 (padded to 64) and 64,
        // several key blocks with a partial last one, a value width of its own, causal (in one key block and in
        // several).
        let cases = [(2, 300, 1100, 80, 80, 2, false), (1, 64, 77, 128, 128, 2, false), (1, 130, 130, 96, 48, 3, true),
                     (2, 257, 2048, 40, 40, 1, false), (1, 1100, 1100, 64, 64, 1, true)]
        // Both product paths where this CPU has them: oneDNN's matmul, and AMX tiles.
        let paths = Tensor.attentionUsesTiles ? [false, true] : [false]
        for (b, lq, lk, c, cv, heads, causal) in cases {
            let q = g.tensor([b, lq, c]) * 3, k = g.tensor([b, lk, c]) * 3, v = g.tensor([b, lk, cv])
            let want = Tensor.attention(query: q.roundedToBFloat16(), key: k.roundedToBFloat16(),
                                        value: v.roundedToBFloat16(), heads: heads, causal: causal)
            let bound = Float(0x1p-9) * v.maxAbs * 1.05 + 1e-5
            for tiles in paths {
                let got = Tensor.attention(query: q, key: k, value: v, heads: heads, causal: causal,
                                                precision: .bf16, tiles: tiles)
                let name = "attention \(b)x\(lq)x\(lk) c\(c) cv\(cv) h\(heads) causal \(causal) tiles \(tiles)"
                XCTAssertLessThanOrEqual(got.maxAbsDifference(want), bound, name)
                // And it is not simply float32 attention: the weights were rounded.
                XCTAssertGreaterThan(got.maxAbsDifference(want), 0, name)
            }
        }
    }

    /// AMX tiles and oneDNN's matmul multiply the same bfloat16 operands exactly and sum in float32, so the two
    /// paths differ only by float32 summation order: heads of 40, 64, 80 and 160 (SD's and SDXL's), value
    /// widths that leave a single 16-column tile, query and key counts that are not multiples of 32.
    func testAttentionOnAMXTilesEqualsOneDNNProducts() throws {
        try XCTSkipUnless(Tensor.attentionUsesTiles, "this CPU has no AMX (oneDNN's products run everywhere)")
        var g = SplitMix(seed: 76)
        let cases = [(2, 100, 1100, 80, 80, 2, false), (1, 33, 77, 320, 320, 8, false), (1, 64, 600, 640, 640, 8, false),
                     (1, 50, 70, 160, 160, 1, false), (1, 65, 65, 128, 48, 2, true), (2, 47, 2049, 64, 16, 1, false)]
        for (b, lq, lk, c, cv, heads, causal) in cases {
            let q = g.tensor([b, lq, c]) * 3, k = g.tensor([b, lk, c]) * 3, v = g.tensor([b, lk, cv])
            let tiles = Tensor.attention(query: q, key: k, value: v, heads: heads, causal: causal,
                                              precision: .bf16, tiles: true)
            let oneDNN = Tensor.attention(query: q, key: k, value: v, heads: heads, causal: causal,
                                               precision: .bf16, tiles: false)
            XCTAssertLessThanOrEqual(tiles.maxAbsDifference(oneDNN), 2e-6 * v.maxAbs,
                                     "attention \(b)x\(lq)x\(lk) c\(c) cv\(cv) h\(heads) causal \(causal)")
        }
    }
}
