extension Tensor {
    /// GroupNorm over [N, C, ...]: statistics per (sample, group of C/groups channels), then a per-channel
    /// affine. Sums are accumulated in Double; with several stripes they are all-reduced (rank order) so every
    /// stripe normalises with the whole map's statistics.
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float,
                          collective: any Collective = SingleShard()) -> Tensor {
        let n = dim(0), c = dim(1)
        precondition(c % groups == 0, "GroupNorm: \(c) channels in \(groups) groups")
        let inner = count / max(n * c, 1)
        let perGroup = (c / groups) * inner
        // Two passes (mean, then centred squares) so large means do not cancel the variance away.
        let localCount = Double(perGroup)
        let sums = data.withUnsafeBufferPointer { src in
            groupSums(src.baseAddress!, groups: n * groups, perGroup: perGroup, center: nil)
        }
        let reducedSums = collective.allReduceSum(sums + [localCount])
        let total = reducedSums[n * groups]
        let means = (0..<(n * groups)).map { reducedSums[$0] / total }
        let squares = data.withUnsafeBufferPointer { src in
            groupSums(src.baseAddress!, groups: n * groups, perGroup: perGroup, center: means)
        }
        let reducedSquares = collective.allReduceSum(squares)
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
                    // Float partial sums over short blocks keep it fast; Double across blocks keeps it exact.
                    while i < perGroup {
                        let end = min(perGroup, i + 128)
                        var f: Float = 0
                        if center == nil {
                            for j in i..<end { f += p[j] }
                        } else {
                            for j in i..<end { let v = p[j] - m; f += v * v }
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
        let w = weight?.data, b = bias?.data
        return Tensor(shape: shape) { out in
            data.withUnsafeBufferPointer { src in
                let s = src.baseAddress!, o = out.baseAddress!
                parallelRanges(rows, minChunk: max(1, (1 << 15) / max(d, 1))) { r in
                    for row in r {
                        let p = s + row * d, q = o + row * d
                        var sum = 0.0
                        for j in 0..<d { sum += Double(p[j]) }
                        let mean = sum / Double(d)
                        var sq = 0.0
                        for j in 0..<d { let v = Double(p[j]) - mean; sq += v * v }
                        let inv = 1 / (sq / Double(d) + Double(eps)).squareRoot()
                        let m = Float(mean), iv = Float(inv)
                        for j in 0..<d {
                            var v = (p[j] - m) * iv
                            if let w { v *= w[j] }
                            if let b { v += b[j] }
                            q[j] = v
                        }
                    }
                }
            }
        }
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
    var m = -Float.infinity
    for j in 0..<n where p[j] > m { m = p[j] }
    if m == -.infinity { m = 0 }
    for j in 0..<n { p[j] -= m }
    fastExpInPlace(p, n)
    var sum: Float = 0
    for j in 0..<n { sum += p[j] }
    let inv = 1 / sum
    for j in 0..<n { p[j] *= inv }
}
