import HiDiffKernels
extension Tensor {
    /// GroupNorm over [N, C, ...]: statistics per (sample, group of C/groups channels), then a per-channel
    /// affine. Sums are accumulated in Double; with several stripes they are all-reduced (rank order) so every
    /// stripe normalises with the whole map's statistics.
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float,
                          collective: any Collective) throws -> Tensor {
        try profiled("groupNorm") { try groupNormCore(groups: groups, weight: weight, bias: bias, eps: eps, collective: collective) }
    }

    /// GroupNorm on one node holding the whole map.
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
        try! groupNorm(groups: groups, weight: weight, bias: bias, eps: eps, collective: SingleShard())
    }

    /// `groupNorm` followed by SiLU, x * sigmoid(x), applied in the normalisation's output pass: one pass over
    /// the map instead of two, with the same arithmetic as `groupNorm(...).silu()` (the affine, then SiLU's
    /// vectorised form on the result). Every ResNet block of the U-Net and the VAE opens with this pair.
    public func groupNormSiLU(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float,
                              collective: any Collective) throws -> Tensor {
        try profiled("groupNorm+silu") {
            try groupNormCore(groups: groups, weight: weight, bias: bias, eps: eps, collective: collective, silu: true)
        }
    }

    /// `groupNormSiLU` on one node holding the whole map.
    public func groupNormSiLU(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
        try! groupNormSiLU(groups: groups, weight: weight, bias: bias, eps: eps, collective: SingleShard())
    }

    func groupNormCore(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float, collective: any Collective,
                       silu: Bool = false) throws -> Tensor {
        let n = dim(0), c = dim(1)
        precondition(c % groups == 0, "GroupNorm: \(c) channels in \(groups) groups")
        let inner = count / max(n * c, 1)
        let perGroup = (c / groups) * inner
        // Two passes (mean, then centred squares) so large means do not cancel the variance away.
        let localCount = Double(perGroup)
        let sums = data.withUnsafeBufferPointer { src in
            groupSums(src.baseAddress!, groups: n * groups, perGroup: perGroup, center: nil)
        }
        let reducedSums = try collective.allReduceSum(sums + [localCount], kind: .norm)
        let total = reducedSums[n * groups]
        let means = (0..<(n * groups)).map { reducedSums[$0] / total }
        let squares = data.withUnsafeBufferPointer { src in
            groupSums(src.baseAddress!, groups: n * groups, perGroup: perGroup, center: means)
        }
        let reducedSquares = try collective.allReduceSum(squares, kind: .norm)
        var scale = [Float](repeating: 0, count: n * c), shift = [Float](repeating: 0, count: n * c)
        for b in 0..<n {
            for g in 0..<groups {
                let mean = means[b * groups + g]
                let variance = reducedSquares[b * groups + g] / total
                let inv = 1 / (variance + Double(eps)).squareRoot()
                for ch in (g * c / groups)..<((g + 1) * c / groups) {
                    let w = Double(weight?.data[ch] ?? 1), bb = Double(bias?.data[ch] ?? 0)
                    scale[b * c + ch] = Float(inv * w)
                    shift[b * c + ch] = Float(bb - mean * inv * w)
                }
            }
        }
        return Tensor(shape: shape) { out in
            data.withUnsafeBufferPointer { src in
                if silu {
                    scaleShiftSiLUPlanes(src.baseAddress!, out.baseAddress!, planes: n * c, inner: inner, scale: scale,
                                         shift: shift)
                } else {
                    scaleShiftPlanes(src.baseAddress!, out.baseAddress!, planes: n * c, inner: inner, scale: scale,
                                     shift: shift)
                }
            }
        }
    }

    /// LayerNorm over the last axis with optional affine `weight`/`bias` of that extent.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
        let d = dim(-1)
        let rows = count / max(d, 1)
        if let weight { precondition(weight.shape == [d], "layerNorm weight \(weight.shape) for \(shape)") }
        if let bias { precondition(bias.shape == [d], "layerNorm bias \(bias.shape) for \(shape)") }
        let w = weight?.data, b = bias?.data
        return profiled("layerNorm") { Tensor(shape: shape) { out in
            data.withUnsafeBufferPointer { src in
                layerNormRows(src.baseAddress!, out.baseAddress!, rows: rows, width: d, weight: w, bias: b, eps: eps)
            }
        } }
    }

    /// Softmax over the last axis.
    public func softmaxLastAxis() -> Tensor {
        let d = dim(-1)
        var out = self
        out.data.withUnsafeMutableBufferPointer { ob in
            let o = ob.baseAddress!
            parallelRanges(count / max(d, 1), minChunk: max(1, (1 << 15) / max(d, 1))) { r in
                for row in r { softmaxRow(o + row * d, d) }
            }
        }
        return out
    }
}

/// In-place numerically stable softmax of `n` floats.
@inlinable
public func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    var m = maxElement(p, n)
    if m == -.infinity { m = 0 }
    let inv = 1 / expShiftedInPlace(p, n, shift: m)
    let inv8 = SIMD8<Float>(repeating: inv)
    var j = 0
    while j + 8 <= n {
        store8(load8(p, j) * inv8, p, j)
        j += 8
    }
    while j < n {
        p[j] *= inv
        j += 1
    }
}
