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

    func groupNormCore(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float, collective: any Collective) throws -> Tensor {
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
                let s = src.baseAddress!, o = out.baseAddress!
                parallelRanges(n * c, minChunk: max(1, (1 << 15) / max(inner, 1))) { r in
                    for nc in r {
                        let a = scale[nc], b = shift[nc], base = nc * inner
                        for i in 0..<inner { o[base + i] = s[base + i] * a + b }
                    }
                }
            }
        }
    }

    /// Per group: the sum of its elements, or with `center` the sum of squared deviations from it.
    private func groupSums(_ s: UnsafePointer<Float>, groups: Int, perGroup: Int, center: [Double]?) -> [Double] {
        var result = [Double](repeating: 0, count: groups)
        result.withUnsafeMutableBufferPointer { rb in
            let rp = rb.baseAddress!
            parallelRanges(groups, minChunk: max(1, (1 << 15) / max(perGroup, 1))) { r in
                for g in r {
                    let p = s + g * perGroup
                    let m = Float(center?[g] ?? 0)
                    var acc = 0.0
                    var i = 0
                    // Eight float lanes over short blocks keep it fast; Double across blocks keeps it exact.
                    let m8 = SIMD8<Float>(repeating: m)
                    while i < perGroup {
                        let end = min(perGroup, i + 256)
                        var f8 = SIMD8<Float>.zero
                        var j = i
                        if center == nil {
                            while j + 8 <= end { f8 += load8(p, j); j += 8 }
                        } else {
                            while j + 8 <= end { let v = load8(p, j) - m8; f8 += v * v; j += 8 }
                        }
                        var f = f8.sum()
                        while j < end {
                            let v = center == nil ? p[j] : p[j] - m
                            f += center == nil ? v : v * v
                            j += 1
                        }
                        acc += Double(f)
                        i = end
                    }
                    rp[g] = acc
                }
            }
        }
        return result
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
                let s = src.baseAddress!, o = out.baseAddress!
                parallelRanges(rows, minChunk: max(1, (1 << 15) / max(d, 1))) { r in
                    for row in r { layerNormRow(s + row * d, o + row * d, d, weight: w, bias: b, eps: eps) }
                }
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

/// LayerNorm of one row of `d` floats: two vectorised passes for the statistics (mean, then centred
/// squares), one for the affine output.
@inline(__always)
func layerNormRow(_ p: UnsafePointer<Float>, _ q: UnsafeMutablePointer<Float>, _ d: Int,
                  weight w: [Float]?, bias b: [Float]?, eps: Float) {
    var s8 = SIMD8<Float>.zero
    var j = 0
    while j + 8 <= d { s8 += load8(p, j); j += 8 }
    var sum = Double(s8.sum())
    while j < d { sum += Double(p[j]); j += 1 }
    let mean = Float(sum / Double(d))
    let m8 = SIMD8<Float>(repeating: mean)
    var q8 = SIMD8<Float>.zero
    j = 0
    while j + 8 <= d { let v = load8(p, j) - m8; q8 += v * v; j += 8 }
    var sq = Double(q8.sum())
    while j < d { let v = Double(p[j] - mean); sq += v * v; j += 1 }
    let inv = Float(1 / (sq / Double(d) + Double(eps)).squareRoot())
    for k in 0..<d { q[k] = (p[k] - mean) * inv }
    if let w { w.withUnsafeBufferPointer { wp in for k in 0..<d { q[k] *= wp[k] } } }
    if let b { b.withUnsafeBufferPointer { bp in for k in 0..<d { q[k] += bp[k] } } }
}
