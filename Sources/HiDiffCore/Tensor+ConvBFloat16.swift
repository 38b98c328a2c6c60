import HiDiffKernels

extension Tensor {
    /// The direct convolution with bfloat16 weights: the input rounded to bfloat16 once, then one bfloat16
    /// GEMM per image (1x1) or im2col (in bfloat16, half the scratch traffic) over blocks of output rows and
    /// one GEMM per block, accumulating in float32 into the output.
    static func conv2dBFloat16(_ x: Tensor, weight: [UInt16], shape: [Int], bias: Tensor?, stride s: Int,
                               padTop: Int, padLeft: Int, dilation d: Int, ho: Int, wo: Int,
                               pointwise: Bool) -> Tensor {
        let (n, c, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
        let (o, kh, kw) = (shape[0], shape[2], shape[3])
        let k = c * kh * kw
        let plane = ho * wo
        let rowsPerBlock = max(1, min(ho, (1 << 24) / max(k * wo, 1)))
        let colCount = pointwise ? 0 : k * rowsPerBlock * wo
        let col = UnsafeMutablePointer<UInt16>.allocate(capacity: max(colCount, 1))
        defer { col.deallocate() }
        let input = x.bfloat16Bits()
        return Tensor(shape: [n, o, ho, wo]) { ob in
            let outBase = ob.baseAddress!
            seedPlanes(outBase, bias: bias, images: n, channels: o, plane: plane)
            let beta: Float = bias == nil ? 0 : 1
            input.withUnsafeBufferPointer { xb in
                weight.withUnsafeBufferPointer { wb in
                    for b in 0..<n {
                        let src = xb.baseAddress! + b * c * h * w
                        let dst = outBase + b * o * plane
                        if pointwise {
                            bfloat16GEMM(m: o, n: plane, k: c, a: wb.baseAddress!, lda: c, b: src, ldb: plane,
                                         beta: beta, c: dst, ldc: plane)
                            continue
                        }
                        var y0 = 0
                        while y0 < ho {
                            let rows = min(rowsPerBlock, ho - y0)
                            let cols = rows * wo
                            im2col(src, c: c, h: h, w: w, kh: kh, kw: kw, s: s, d: d,
                                   padTop: padTop, padLeft: padLeft, y0: y0, rows: rows, wo: wo, into: col)
                            bfloat16GEMM(m: o, n: cols, k: k, a: wb.baseAddress!, lda: k,
                                         b: col, ldb: cols, beta: beta, c: dst + y0 * wo, ldc: plane)
                            y0 += rows
                        }
                    }
                }
            }
        }
    }
}
