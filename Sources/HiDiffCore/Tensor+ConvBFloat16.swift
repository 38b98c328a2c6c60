import HiDiffKernels

extension Tensor {
    /// The convolution with bfloat16 weights, accumulating in float32: oneDNN's own convolution for kernels
    /// larger than 1x1 where it has a fast one for the shape (`conv2dOneDNN`), else the input rounded to
    /// bfloat16 once and `conv2dDirect` with bfloat16 products (im2col in bfloat16).
    static func conv2dBFloat16(_ x: Tensor, weight: LayerWeight, bias: Tensor?, stride s: Int, padTop: Int,
                               padLeft: Int, dilation d: Int, ho: Int, wo: Int, pointwise: Bool) -> Tensor {
        // 1x1 convolutions are plain products already: there oneDNN's convolution measured slower (0.31 against
        // 0.25 s per SD 1.5 forward at 512 px), its two transposes costing more than they save.
        if !pointwise, let out = conv2dOneDNN(x, weight: weight, bias: bias, stride: s, padTop: padTop,
                                              padLeft: padLeft, dilation: d, ho: ho, wo: wo) {
            return out
        }
        guard case let .bfloat16(bits) = weight.storage else { fatalError("conv2dBFloat16 with float32 weights") }
        let input = x.bfloat16Bits()
        return input.withUnsafeBufferPointer { xb in
            bits.withUnsafeBufferPointer { wb in
                conv2dDirect(xb.baseAddress!, shape: x.shape, weight: wb.baseAddress!, weightShape: weight.shape,
                             bias: bias, stride: s, padTop: padTop, padLeft: padLeft, dilation: d, ho: ho, wo: wo,
                             pointwise: pointwise) { m, n, k, a, lda, b, ldb, beta, c, ldc in
                    bfloat16GEMM(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
                }
            }
        }
    }

    /// oneDNN's direct convolution (AMX where present): the input transposed to NHWC and rounded to bfloat16,
    /// one single-threaded convolution per image on each core (images cut into bands of output rows when there
    /// are fewer images than cores), the NHWC float32 output transposed back, the bias added in oneDNN's
    /// epilogue. The convolution itself runs 2-3x faster than im2col and a bfloat16 product (5.2 against about
    /// 15 ms for a 320-channel 64x64 map, one image per core); with the transposes, SD 1.5's 3x3 convolutions
    /// took 1.16-1.30 s per forward at 512 px against 1.71-1.91 s (HIDIFF_PROFILE, same runs). Its output
    /// layout must be NHWC: with NCHW oneDNN 2.6 falls back to its reference loops (30 s for one 64x64 map).
    /// The weights are reordered into oneDNN's blocked layout once per weight and kept (`LayerWeight`), so a
    /// bfloat16 model holds its convolution weights twice. nil where oneDNN did not start, has no fast kernel
    /// for the shape, or the padding does not fit its arguments.
    static func conv2dOneDNN(_ x: Tensor, weight: LayerWeight, bias: Tensor?, stride s: Int, padTop: Int,
                             padLeft: Int, dilation d: Int, ho: Int, wo: Int) -> Tensor? {
        guard case let .success(engine) = BFloat16GEMM.shared, engine.usesOneDNN,
              let layouts = weight.convolutionLayouts, case let .bfloat16(bits) = weight.storage else { return nil }
        let (n, c, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
        let (o, kh, kw) = (weight.dim(0), weight.dim(2), weight.dim(3))
        // The padding that gives exactly ho x wo outputs (a stripe's last rows may be cut short by the caller).
        let padBottom = (ho - 1) * s + d * (kh - 1) + 1 - h - padTop
        let padRight = (wo - 1) * s + d * (kw - 1) + 1 - w - padLeft
        guard n > 0, c > 0, o > 0, padTop >= 0, padLeft >= 0, padBottom >= 0, padRight >= 0 else { return nil }
        let bands = max(1, min(ho, ProcessInfoCores.count / max(n, 1)))
        let bandRows = (ho + bands - 1) / bands
        // Each band: its output rows, the input rows they read, and the zero rows oneDNN adds above and below.
        let geometry: [(r0: Int, rows: Int, in0: Int, shape: BFloat16ConvolutionShape)] = stride(from: 0, to: ho, by: bandRows).map { r0 in
            let rows = min(bandRows, ho - r0)
            let first = r0 * s - padTop, last = (r0 + rows - 1) * s - padTop + d * (kh - 1)
            let in0 = max(0, first), in1 = min(h - 1, last)
            let shape = BFloat16ConvolutionShape(c: c, h: in1 - in0 + 1, w: w, o: o, kh: kh, kw: kw, stride: s, dilation: d,
                                                 padTop: in0 - first, padLeft: padLeft, padBottom: last - in1,
                                                 padRight: padRight, bias: bias != nil)
            return (r0, rows, in0, shape)
        }
        var plans: [BFloat16ConvolutionPlan] = []
        var weights: [AlignedBFloat16] = []
        do throws(BFloat16GEMMError) {
            for g in geometry {
                let plan = try engine.convolutionPlan(g.shape)
                guard plan.isFast, plan.shape.ho == g.rows, plan.shape.wo == wo else { return nil }
                plans.append(plan)
                weights.append(try layouts.copy(for: plan.weightsKey) { () throws(BFloat16GEMMError) in
                    try bits.withUnsafeBufferPointer { p throws(BFloat16GEMMError) in
                        try engine.reorderedWeights(p.baseAddress!, for: plan)
                    }
                })
            }
        } catch {
            return nil  // oneDNN has no convolution for this shape: the caller's path has
        }
        // The benches' FLOP counts: the convolution's multiply-adds, as a product would count them.
        countProductFlops(2 * n * ho * wo * o * c * kh * kw)
        // NCHW float32 -> NHWC bfloat16, once for all images, and the NHWC float32 output: pooled buffers
        // (fresh ones were zeroed by the kernel on every call), aligned for AMX's tile loads.
        let outCount = n * ho * wo * o
        return ScratchPool.shared.withBuffer(UInt16.self, capacity: n * h * w * c) { input in
            ScratchPool.shared.withBuffer(Float.self, capacity: outCount) { dst in
                x.data.withUnsafeBufferPointer {
                    transposeBatchedToBFloat16($0.baseAddress!, input, batch: n, rows: c, cols: h * w)
                }
                withBias(bias) { b in
                    parallelWorkers(n * geometry.count) { item in
                        let image = item / geometry.count, band = item % geometry.count
                        let g = geometry[band]
                        BFloat16GEMM.withOneThreadPerProduct {
                            do {
                                try engine.runConvolution(plans[band], src: input + (image * h + g.in0) * w * c,
                                                          weights: weights[band].pointer, bias: b,
                                                          dst: dst + (image * ho + g.r0) * wo * o)
                            } catch {
                                fatalError("\(error)")
                            }
                        }
                    }
                }
                return Tensor(shape: [n, o, ho, wo]) { out in
                    transposeBatched(dst, out.baseAddress!, batch: n, rows: ho * wo, cols: o)
                }
            }
        }
    }
}
