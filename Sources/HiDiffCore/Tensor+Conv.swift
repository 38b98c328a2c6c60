import HiDiffKernels
extension Tensor {
    /// 2-D convolution (cross-correlation, groups = 1) of an NCHW tensor, torch `F.conv2d` semantics, on one
    /// node holding the whole map. `weight` is [O, I, kh, kw]; stride, padding and dilation apply to both axes.
    public func conv2d(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, dilation: Int = 1) -> Tensor {
        conv2d(weight: LayerWeight(weight), bias: bias, stride: stride, padding: padding, dilation: dilation)
    }

    /// `conv2d` with the weight at its loaded precision (bfloat16: the input is rounded to bfloat16 and the
    /// products accumulate in float32).
    public func conv2d(weight: LayerWeight, bias: Tensor?, stride: Int = 1, padding: Int = 0, dilation: Int = 1) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && weight.dim(1) == dim(1),
                     "conv2d: input \(shape) vs weight \(weight.shape)")
        return Tensor.conv2dCore(self, weight: weight, bias: bias, stride: stride, padTop: padding,
                                 padBottom: padding, padLeft: padding, padRight: padding, dilation: dilation)
    }

    /// `conv2d` on this rank's horizontal stripe of the map: the rows the stencil needs beyond the stripe come
    /// from the neighbours as halo rows and the global border is zero padding, so the stripes of the result
    /// equal the whole-map convolution. With one shard it is the plain convolution.
    public func conv2d(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
                       collective: any Collective) throws -> Tensor {
        try conv2d(weight: LayerWeight(weight), bias: bias, stride: stride, padding: padding, dilation: dilation,
                   collective: collective)
    }

    /// The striped `conv2d` with the weight at its loaded precision.
    public func conv2d(weight: LayerWeight, bias: Tensor?, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
                       collective: any Collective) throws -> Tensor {
        try conv2d(weight: weight, bias: bias, stride: stride, padTop: padding, padBottom: padding,
                   padLeft: padding, padRight: padding, dilation: dilation, collective: collective)
    }

    /// The striped convolution with its own padding per side (the VAE encoder's downsampler pads only the
    /// bottom and right). Every stripe but the last must hold a multiple of `stride` rows; the halo counts
    /// follow from the op alone, so each rank knows what its neighbours need without asking.
    public func conv2d(weight: Tensor, bias: Tensor?, stride s: Int, padTop: Int, padBottom: Int, padLeft: Int,
                       padRight: Int, dilation d: Int, collective: any Collective) throws -> Tensor {
        try conv2d(weight: LayerWeight(weight), bias: bias, stride: s, padTop: padTop, padBottom: padBottom,
                   padLeft: padLeft, padRight: padRight, dilation: d, collective: collective)
    }

    /// The striped convolution with its own padding per side, with the weight at its loaded precision.
    public func conv2d(weight: LayerWeight, bias: Tensor?, stride s: Int, padTop: Int, padBottom: Int, padLeft: Int,
                       padRight: Int, dilation d: Int, collective: any Collective) throws -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && weight.dim(1) == dim(1),
                     "conv2d: input \(shape) vs weight \(weight.shape)")
        if collective.size == 1 {
            return Tensor.conv2dCore(self, weight: weight, bias: bias, stride: s, padTop: padTop,
                                     padBottom: padBottom, padLeft: padLeft, padRight: padRight, dilation: d)
        }
        let h = dim(2), kh = weight.dim(2)
        let last = collective.rank == collective.size - 1
        guard last || h % s == 0 else {
            throw CollectiveError.invalidStripe(reason: "stripe \(collective.rank) has \(h) rows, not a multiple of the conv stride \(s)")
        }
        // A non-last stripe owns output rows h/s; its last one reads up to row h - s - padTop + (kh-1)d.
        let below = max(0, (kh - 1) * d - s - padTop + 1)
        var extended = self
        if padTop > 0 || below > 0 {
            let halo = try collective.exchangeRows(self, sendUp: below, sendDown: padTop, receiveAbove: padTop,
                                                   receiveBelow: last ? 0 : below)
            extended = Tensor.concat([halo.above, self, halo.below], axis: 2)
        }
        return Tensor.conv2dCore(extended, weight: weight, bias: bias, stride: s, padTop: 0,
                                 padBottom: last ? padBottom : 0, padLeft: padLeft, padRight: padRight,
                                 dilation: d, maxOutRows: last ? nil : h / s)
    }

    /// The convolution kernel: Winograd F(2x2, 3x3) for large stride-1 3x3 convolutions in float32, else one
    /// GEMM per image (1x1) or im2col over blocks of output rows (bounded scratch) and one GEMM per block.
    static func conv2dCore(_ x: Tensor, weight: LayerWeight, bias: Tensor?, stride s: Int,
                           padTop: Int, padBottom: Int, padLeft: Int, padRight: Int, dilation d: Int,
                           maxOutRows: Int? = nil) -> Tensor {
        let (n, c, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
        let (o, kh, kw) = (weight.dim(0), weight.dim(2), weight.dim(3))
        var ho = (h + padTop + padBottom - d * (kh - 1) - 1) / s + 1
        if let maxOutRows { ho = min(ho, maxOutRows) }
        let wo = (w + padLeft + padRight - d * (kw - 1) - 1) / s + 1
        precondition(ho > 0 && wo > 0, "conv2d output would be empty for input \(x.shape), kernel \(kh)x\(kw)")
        if let bias { precondition(bias.shape == [o], "conv2d bias \(bias.shape) for \(o) outputs") }
        let plane = ho * wo
        let pointwise = kh == 1 && kw == 1 && s == 1 && padTop == 0 && padLeft == 0 && padBottom == 0
            && padRight == 0
        if case .bfloat16 = weight.storage {
            // bfloat16 products are cheap enough on AMX that Winograd's transforms would not pay.
            return profiled(pointwise ? "conv1x1 bf16" : "conv\(kh)x\(kw) bf16") {
                conv2dBFloat16(x, weight: weight, bias: bias, stride: s, padTop: padTop, padLeft: padLeft,
                               dilation: d, ho: ho, wo: wo, pointwise: pointwise)
            }
        }
        guard case let .float32(weight) = weight.storage else { fatalError("unreachable: bfloat16 handled above") }
        if winogradApplies(kh: kh, kw: kw, stride: s, dilation: d, channels: c, outputPixels: n * plane) {
            // The output transform writes every element (bias included).
            return profiled("conv3x3 winograd") {
                Tensor(shape: [n, o, ho, wo]) { ob in
                    conv3x3Winograd(x, weight: weight, bias: bias, padTop: padTop, padLeft: padLeft, ho: ho,
                                    wo: wo, into: ob.baseAddress!)
                }
            }
        }
        return profiled(pointwise ? "conv1x1" : "conv\(kh)x\(kw) im2col") {
            conv2dGEMM(x, weight: weight, bias: bias, stride: s, padTop: padTop, padLeft: padLeft, dilation: d,
                       ho: ho, wo: wo, pointwise: pointwise)
        }
    }

    /// The direct convolution in float32: one SGEMM per image (1x1) or per block of output rows over im2col
    /// columns.
    static func conv2dGEMM(_ x: Tensor, weight: Tensor, bias: Tensor?, stride s: Int, padTop: Int, padLeft: Int,
                           dilation d: Int, ho: Int, wo: Int, pointwise: Bool) -> Tensor {
        x.data.withUnsafeBufferPointer { xb in
            weight.data.withUnsafeBufferPointer { wb in
                conv2dDirect(xb.baseAddress!, shape: x.shape, weight: wb.baseAddress!, weightShape: weight.shape,
                             bias: bias, stride: s, padTop: padTop, padLeft: padLeft, dilation: d, ho: ho, wo: wo,
                             pointwise: pointwise) { m, n, k, a, lda, b, ldb, beta, c, ldc in
                    sgemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
                }
            }
        }
    }

    /// The direct convolution over float32 maps or bfloat16 ones (`product` multiplies that element type into
    /// float32): one product per image (1x1) or per block of output rows over im2col columns. The output
    /// starts as the bias broadcast over each plane (or is left for the products to write) and the products
    /// add onto it (beta = 1): no separate bias pass.
    static func conv2dDirect<T: Im2colElement>(
        _ x: UnsafePointer<T>, shape: [Int], weight: UnsafePointer<T>, weightShape: [Int], bias: Tensor?,
        stride s: Int, padTop: Int, padLeft: Int, dilation d: Int, ho: Int, wo: Int, pointwise: Bool,
        product: (_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<T>, _ lda: Int, _ b: UnsafePointer<T>, _ ldb: Int,
                  _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) -> Void
    ) -> Tensor {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (o, kh, kw) = (weightShape[0], weightShape[2], weightShape[3])
        let k = c * kh * kw
        let plane = ho * wo
        // Scratch of at most ~16M elements for the column matrix; im2col writes every element.
        let rowsPerBlock = max(1, min(ho, (1 << 24) / max(k * wo, 1)))
        let colCount = pointwise ? 0 : k * rowsPerBlock * wo
        return ScratchPool.shared.withBuffer(T.self, capacity: max(colCount, 1)) { col in
            Tensor(shape: [n, o, ho, wo]) { ob in
                let outBase = ob.baseAddress!
                seedPlanes(outBase, bias: bias, images: n, channels: o, plane: plane)
                let beta: Float = bias == nil ? 0 : 1
                for b in 0..<n {
                    let src = x + b * c * h * w
                    let dst = outBase + b * o * plane
                    if pointwise {
                        product(o, plane, c, weight, c, src, plane, beta, dst, plane)
                        continue
                    }
                    var y0 = 0
                    while y0 < ho {
                        let rows = min(rowsPerBlock, ho - y0)
                        let cols = rows * wo
                        im2col(src, c: c, h: h, w: w, kh: kh, kw: kw, s: s, d: d,
                               padTop: padTop, padLeft: padLeft, y0: y0, rows: rows, wo: wo, into: col)
                        product(o, cols, k, weight, k, col, cols, beta, dst + y0 * wo, plane)
                        y0 += rows
                    }
                }
            }
        }
    }

    /// Writes `bias` over every output plane, for GEMMs that then add onto it (beta = 1); without a bias the
    /// GEMMs write every element themselves (beta = 0) and nothing is written here.
    static func seedPlanes(_ out: UnsafeMutablePointer<Float>, bias: Tensor?, images n: Int, channels o: Int,
                           plane: Int) {
        guard let bias else { return }
        bias.data.withUnsafeBufferPointer { bb in
            let bp = bb.baseAddress!
            parallelRanges(n * o, minChunk: max(1, (1 << 15) / max(plane, 1))) { r in
                for p in r { (out + p * plane).initialize(repeating: bp[p % o], count: plane) }
            }
        }
    }
}
