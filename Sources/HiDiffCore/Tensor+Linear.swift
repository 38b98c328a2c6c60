import HiDiffKernels
extension Tensor {
    /// x W^T + b over the last axis: [..., in] with `weight` [out, in] and `bias` [out] gives [..., out].
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 2 && weight.dim(1) == dim(-1),
                     "linear: input \(shape) vs weight \(weight.shape)")
        return profiled("linear") { linearGEMM(weight: weight, bias: bias) }
    }

    /// `linear` with the weight at its loaded precision: float32 as above, or bfloat16, where the input is
    /// rounded to bfloat16 and the product accumulates in float32.
    public func linear(weight: LayerWeight, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 2 && weight.dim(1) == dim(-1),
                     "linear: input \(shape) vs weight \(weight.shape)")
        switch weight.storage {
        case let .float32(w):
            return profiled("linear") { linearGEMM(weight: w, bias: bias) }
        case let .bfloat16(w):
            return profiled("linear bf16") { linearBFloat16(weight: w, outFeatures: weight.dim(0), bias: bias) }
        }
    }

    func linearGEMM(weight: Tensor, bias: Tensor?) -> Tensor {
        let inF = weight.dim(1), outF = weight.dim(0)
        let rows = count / max(inF, 1)
        var out = linearOutput(outFeatures: outF, bias: bias)
        data.withUnsafeBufferPointer { x in
            weight.data.withUnsafeBufferPointer { w in
                out.data.withUnsafeMutableBufferPointer { o in
                    sgemm(transB: true, m: rows, n: outF, k: inF,
                          a: x.baseAddress!, lda: inF, b: w.baseAddress!, ldb: inF,
                          beta: bias == nil ? 0 : 1, c: o.baseAddress!, ldc: outF)
                }
            }
        }
        return out
    }

    func linearBFloat16(weight: [UInt16], outFeatures outF: Int, bias: Tensor?) -> Tensor {
        let inF = dim(-1)
        let rows = count / max(inF, 1)
        var outShape = shape
        outShape[outShape.count - 1] = outF
        if let bias { precondition(bias.shape == [outF], "linear bias \(bias.shape) for \(outF) outputs") }
        let x = bfloat16Bits()
        // The bias is added in the product's epilogue: the output is written once.
        return Tensor(shape: outShape) { o in
            x.withUnsafeBufferPointer { xb in
                weight.withUnsafeBufferPointer { w in
                    withBias(bias) { b in
                        bfloat16GEMM(transB: true, m: rows, n: outF, k: inF, a: xb.baseAddress!, lda: inF,
                                     b: w.baseAddress!, ldb: inF, c: o.baseAddress!, ldc: outF, bias: b)
                    }
                }
            }
        }
    }

    /// The output of a linear layer before its product: the bias in every row (the GEMM adds onto it with
    /// beta = 1, no separate bias pass), or zeros.
    func linearOutput(outFeatures outF: Int, bias: Tensor?) -> Tensor {
        let rows = count / max(dim(-1), 1)
        var outShape = shape
        outShape[outShape.count - 1] = outF
        guard let bias else { return Tensor(zeros: outShape) }
        precondition(bias.shape == [outF], "linear bias \(bias.shape) for \(outF) outputs")
        return Tensor(shape: outShape) { o in
            bias.data.withUnsafeBufferPointer { b in
                let src = b.baseAddress!, dst = o.baseAddress!
                parallelRanges(rows, minChunk: max(1, (1 << 15) / max(outF, 1))) { r in
                    for row in r { (dst + row * outF).initialize(from: src, count: outF) }
                }
            }
        }
    }

    /// Matrix product of two rank-2 tensors.
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(rank == 2 && other.rank == 2 && dim(1) == other.dim(0),
                     "matmul \(shape) x \(other.shape)")
        let (m, k, n) = (dim(0), dim(1), other.dim(1))
        var out = Tensor(zeros: [m, n])
        data.withUnsafeBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                out.data.withUnsafeMutableBufferPointer { c in
                    sgemm(m: m, n: n, k: k, a: a.baseAddress!, lda: k, b: b.baseAddress!, ldb: n,
                          c: c.baseAddress!, ldc: n)
                }
            }
        }
        return out
    }
}

/// Calls `body` with a pointer to the bias's elements, or nil without one.
func withBias<R>(_ bias: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let bias else { return body(nil) }
    return bias.data.withUnsafeBufferPointer { body($0.baseAddress!) }
}
