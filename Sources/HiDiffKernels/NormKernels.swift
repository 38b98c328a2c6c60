// The normalisation loops of GroupNorm and LayerNorm over raw pointers (the statistics' reduction across
// stripes and the affine parameters stay in HiDiffCore). Compiled with -Ounchecked: with overflow checks
// on their index arithmetic they do not vectorise and run 1.7-1.9x slower (`hidiff bench ops`).

/// Per group: the sum of its elements, or with `center` the sum of squared deviations from it.
public func groupSums(_ s: UnsafePointer<Float>, groups: Int, perGroup: Int, center: [Double]?) -> [Double] {
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

/// o[p * inner + i] = s[p * inner + i] * scale[p] + shift[p] for `planes` planes of `inner` floats.
public func scaleShiftPlanes(_ s: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, planes: Int, inner: Int,
                             scale: [Float], shift: [Float]) {
    parallelRanges(planes, minChunk: max(1, (1 << 15) / max(inner, 1))) { r in
        for p in r {
            let a = scale[p], b = shift[p], base = p * inner
            for i in 0..<inner { o[base + i] = s[base + i] * a + b }
        }
    }
}

/// `scaleShiftPlanes` followed by SiLU in the same pass: y = s * scale + shift, then `fastSiLU(y)` as
/// `siluRange` computes it (8 lanes at a time, the scalar form for a plane's last `inner % 8` elements).
public func scaleShiftSiLUPlanes(_ s: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, planes: Int, inner: Int,
                                 scale: [Float], shift: [Float]) {
    parallelRanges(planes, minChunk: max(1, (1 << 15) / max(inner, 1))) { r in
        for p in r {
            let a = scale[p], b = shift[p], base = p * inner
            let a8 = SIMD8<Float>(repeating: a), b8 = SIMD8<Float>(repeating: b)
            var i = 0
            while i + 8 <= inner {
                store8(fastSiLU(load8(s, base + i) * a8 + b8), o, base + i)
                i += 8
            }
            while i < inner {
                o[base + i] = fastSiLU(s[base + i] * a + b)
                i += 1
            }
        }
    }
}

/// LayerNorm of `rows` rows of `width` floats with an optional affine `weight`/`bias` of that width.
public func layerNormRows(_ s: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, rows: Int, width d: Int,
                          weight: [Float]?, bias: [Float]?, eps: Float) {
    parallelRanges(rows, minChunk: max(1, (1 << 15) / max(d, 1))) { r in
        for row in r { layerNormRow(s + row * d, o + row * d, d, weight: weight, bias: bias, eps: eps) }
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
