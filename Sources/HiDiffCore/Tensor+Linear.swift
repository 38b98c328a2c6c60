import HiDiffKernels
extension Tensor {
    /// x W^T + b over the last axis: [..., in] with `weight` [out, in] and `bias` [out] gives [..., out].
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 2 && weight.dim(1) == dim(-1),
                     "linear: input \(shape) vs weight \(weight.shape)")
        return profiled("linear") { linearGEMM(weight: weight, bias: bias) }
    }

    func linearGEMM(weight: Tensor, bias: Tensor?) -> Tensor {
        let inF = weight.dim(1), outF = weight.dim(0)
        let rows = count / max(inF, 1)
        var outShape = shape
        outShape[outShape.count - 1] = outF
        var out: Tensor
        if let bias {
            precondition(bias.shape == [outF], "linear bias \(bias.shape) for \(outF) outputs")
            // Seed C with the bias rows so the GEMM adds onto it (beta = 1).
            out = Tensor(shape: outShape) { o in
                bias.data.withUnsafeBufferPointer { b in
                    let src = b.baseAddress!, dst = o.baseAddress!
                    parallelRanges(rows, minChunk: max(1, (1 << 15) / max(outF, 1))) { r in
                        for row in r { (dst + row * outF).initialize(from: src, count: outF) }
                    }
                }
            }
        } else {
            out = Tensor(zeros: outShape)
        }
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
