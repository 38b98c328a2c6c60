import HiDiffKernels

extension Tensor {
    /// The transformer blocks' feed-forward with the GEGLU activation: linear(in -> 2 inner), a * gelu(gate),
    /// linear(inner -> out), over the last axis.
    ///
    /// With both weights in bfloat16 (and small: `feedForwardFusedWeightLimit`) the three run fused, a block of rows at a time on each core: the first
    /// product's float32 rows stay in a cache-sized scratch, GEGLU reads them there and writes its output
    /// straight in bfloat16 (the rounding the second product's input gets anyway), so the 2 inner-wide
    /// activation never goes to memory and is never rounded in a pass of its own. The arithmetic is the
    /// unfused path's, block by block. float32 weights take the unfused path (`linear`, `geglu`, `linear`).
    public func feedForwardGEGLU(proj: LayerWeight, projBias: Tensor?, out: LayerWeight, outBias: Tensor?) -> Tensor {
        let dimIn = dim(-1), inner = out.dim(1)
        precondition(proj.rank == 2 && proj.dim(1) == dimIn && proj.dim(0) == 2 * inner && out.rank == 2,
                     "feed-forward: input \(shape), projection \(proj.shape), output \(out.shape)")
        guard case let .bfloat16(w1) = proj.storage, case let .bfloat16(w2) = out.storage,
              w1.count + w2.count <= Self.feedForwardFusedWeightLimit else {
            return linear(weight: proj, bias: projBias).geglu().linear(weight: out, bias: outBias)
        }
        if let projBias { precondition(projBias.shape == [2 * inner], "projection bias \(projBias.shape)") }
        if let outBias { precondition(outBias.shape == [out.dim(0)], "output bias \(outBias.shape)") }
        return profiled("feedForward bf16") {
            feedForwardBFloat16(w1: w1, b1: projBias, w2: w2, b2: outBias, inner: inner, outFeatures: out.dim(0))
        }
    }

    /// Rows per block of the fused path: its float32 scratch (rows x 2 inner) is 1.9 MiB for SD's 320-wide
    /// blocks and 3.8 MiB for the 640-wide ones. Measured (`hidiff bench ops --filter feedforward`, bf16):
    /// 128, 192 and 256 rows within 10% of each other, 192 best or level.
    public static let feedForwardBlockRows = 192

    /// The fused path reads both weights once per block of rows (the unfused products once per call): it
    /// runs only where they are small, at most 8 Mi bfloat16 values (16 MiB). SD's 320- and 640-wide blocks
    /// (1.2 and 4.9 Mi values) are 1.3x and 1.2x faster fused; the 1280-wide ones (19.7 Mi values) were 1.2x
    /// slower fused and stay unfused.
    static let feedForwardFusedWeightLimit = 8 << 20

    private func feedForwardBFloat16(w1: [UInt16], b1: Tensor?, w2: [UInt16], b2: Tensor?, inner: Int,
                                     outFeatures outF: Int) -> Tensor {
        let dimIn = dim(-1)
        let rows = count / max(dimIn, 1)
        var outShape = shape
        outShape[outShape.count - 1] = outF
        let block = Self.feedForwardBlockRows
        // One contiguous run of rows per core, each with its own scratch, walked a block at a time.
        let workers = max(1, min(ProcessInfoCores.count, (rows + 15) / 16))
        let perWorker = ((rows + workers - 1) / workers + 15) / 16 * 16
        let x = bfloat16Bits()
        return Tensor(shape: outShape) { o in
            x.withUnsafeBufferPointer { xb in
                w1.withUnsafeBufferPointer { w1p in
                    w2.withUnsafeBufferPointer { w2p in
                        withBias(b1) { b1p in
                            withBias(b2) { b2p in
                                parallelWorkers(workers) { w in
                                    let hidden = UnsafeMutablePointer<Float>.allocate(capacity: block * 2 * inner)
                                    let gated = UnsafeMutablePointer<Float>.allocate(capacity: block * inner)
                                    let gatedBits = UnsafeMutablePointer<UInt16>.allocate(capacity: block * inner)
                                    defer { hidden.deallocate(); gated.deallocate(); gatedBits.deallocate() }
                                    let first = w * perWorker, last = min(rows, first + perWorker)
                                    var r0 = first
                                    while r0 < last {
                                        let m = min(block, last - r0)
                                        bfloat16GEMM(transB: true, m: m, n: 2 * inner, k: dimIn,
                                                     a: xb.baseAddress! + r0 * dimIn, lda: dimIn, b: w1p.baseAddress!,
                                                     ldb: dimIn, c: hidden, ldc: 2 * inner, bias: b1p, split: false)
                                        for i in 0..<m {
                                            Self.gegluRow(hidden + i * 2 * inner, half: inner, into: gated + i * inner)
                                        }
                                        convertToBFloat16(gated, gatedBits, count: m * inner)
                                        bfloat16GEMM(transB: true, m: m, n: outF, k: inner, a: gatedBits, lda: inner,
                                                     b: w2p.baseAddress!, ldb: inner, c: o.baseAddress! + r0 * outF,
                                                     ldc: outF, bias: b2p, split: false)
                                        r0 += m
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
