import HiDiffCore

/// Elementwise kernels for the scheduler formulas. Each closure is evaluated in float32 in exactly the order
/// torch evaluates the same expression (one rounding per operation, no contraction), so results match
/// diffusers bit for bit where its scalars match.
enum Elementwise {
    static func map(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
        Tensor(shape: a.shape) { out in
            a.data.withUnsafeBufferPointer { pa in
                for i in 0..<out.count { out[i] = f(pa[i]) }
            }
        }
    }

    static func map(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape, "scheduler: shape \(a.shape) vs \(b.shape)")
        return Tensor(shape: a.shape) { out in
            a.data.withUnsafeBufferPointer { pa in
                b.data.withUnsafeBufferPointer { pb in
                    for i in 0..<out.count { out[i] = f(pa[i], pb[i]) }
                }
            }
        }
    }

    static func map(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape && a.shape == c.shape, "scheduler: shapes \(a.shape), \(b.shape), \(c.shape)")
        return Tensor(shape: a.shape) { out in
            a.data.withUnsafeBufferPointer { pa in
                b.data.withUnsafeBufferPointer { pb in
                    c.data.withUnsafeBufferPointer { pc in
                        for i in 0..<out.count { out[i] = f(pa[i], pb[i], pc[i]) }
                    }
                }
            }
        }
    }

    static func map(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ d: Tensor,
                    _ f: (Float, Float, Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape && a.shape == c.shape && a.shape == d.shape,
                     "scheduler: shapes \(a.shape), \(b.shape), \(c.shape), \(d.shape)")
        return Tensor(shape: a.shape) { out in
            a.data.withUnsafeBufferPointer { pa in
                b.data.withUnsafeBufferPointer { pb in
                    c.data.withUnsafeBufferPointer { pc in
                        d.data.withUnsafeBufferPointer { pd in
                            for i in 0..<out.count { out[i] = f(pa[i], pb[i], pc[i], pd[i]) }
                        }
                    }
                }
            }
        }
    }
}
