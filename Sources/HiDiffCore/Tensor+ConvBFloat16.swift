import HiDiffKernels

extension Tensor {
    /// The direct convolution with bfloat16 weights: the input rounded to bfloat16 once, then `conv2dDirect`
    /// with bfloat16 products (im2col in bfloat16: half the scratch traffic) accumulating in float32.
    static func conv2dBFloat16(_ x: Tensor, weight: [UInt16], shape: [Int], bias: Tensor?, stride s: Int,
                               padTop: Int, padLeft: Int, dilation d: Int, ho: Int, wo: Int,
                               pointwise: Bool) -> Tensor {
        let input = x.bfloat16Bits()
        return input.withUnsafeBufferPointer { xb in
            weight.withUnsafeBufferPointer { wb in
                conv2dDirect(xb.baseAddress!, shape: x.shape, weight: wb.baseAddress!, weightShape: shape,
                             bias: bias, stride: s, padTop: padTop, padLeft: padLeft, dilation: d, ho: ho, wo: wo,
                             pointwise: pointwise) { m, n, k, a, lda, b, ldb, beta, c, ldc in
                    bfloat16GEMM(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
                }
            }
        }
    }
}
