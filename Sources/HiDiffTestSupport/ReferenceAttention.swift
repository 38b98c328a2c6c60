import Foundation
import HiDiffCore

/// Attention by its definition, in double precision, for tests: softmax(q k^T / sqrt d) v per head, heads as
/// column blocks of [B, L, C] tensors (v may have its own width); causal: query i sees keys 0...i.
public func referenceAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, causal: Bool) -> [Double] {
    let (b, lq, c) = (q.dim(0), q.dim(1), q.dim(2))
    let lk = k.dim(1), cv = v.dim(2), d = c / heads, dv = cv / heads
    let scale = 1 / Double(d).squareRoot()
    var out = [Double](repeating: 0, count: b * lq * cv)
    for bi in 0..<b {
        for h in 0..<heads {
            for i in 0..<lq {
                let visible = causal ? min(lk, i + 1) : lk
                var s = [Double](repeating: 0, count: visible)
                for j in 0..<visible {
                    var dot = 0.0
                    for t in 0..<d {
                        dot += Double(q.data[(bi * lq + i) * c + h * d + t]) * Double(k.data[(bi * lk + j) * c + h * d + t])
                    }
                    s[j] = dot * scale
                }
                let m = s.max()!
                let e = s.map { Foundation.exp($0 - m) }
                let sum = e.reduce(0, +)
                for t in 0..<dv {
                    var acc = 0.0
                    for j in 0..<visible { acc += e[j] * Double(v.data[(bi * lk + j) * cv + h * dv + t]) }
                    out[(bi * lq + i) * cv + h * dv + t] = acc / sum
                }
            }
        }
    }
    return out
}
