import CVectorKernels
import HiDiffKernels
import Synchronization

extension Tensor {
    /// Heads at most this wide take `narrowAttention` on AVX-512 CPUs. The kernel serves up to 32, but at
    /// 24 and 32 the tiled products were as fast or faster (the demo model at 256 px, `hidiff bench unet`:
    /// forward 0.302 s with 16 against 0.326 s with 32).
    public static let narrowHeadWidth = 16
    /// The widest heads `narrowAttention` takes.
    public static let narrowKernelWidth = 32

    /// Whether `narrowAttention` serves heads of width `d` and `dv` on this CPU: matrix products over a
    /// contraction of 16 spent 65% of their time packing and clearing tiles (the demo model's 16-wide heads:
    /// `perf` on `hidiff bench ops --filter narrow`: 45 ms tiled, 33 ms narrow). The kernel has an AVX-512
    /// form only; elsewhere the tiled products run.
    static func usesNarrowAttention(d: Int, dv: Int) -> Bool {
        VectorUnit.detected == .avx512 && d <= narrowHeadWidth && dv <= narrowHeadWidth
    }

    /// Attention for narrow heads (CVectorKernels' `hd_attention_narrow`): blocks of query rows of each
    /// (sample, head) as tasks over the cores. bfloat16 rounds Q, K, V and the softmax weights as the tiled
    /// bfloat16 path does, and accumulates in float32. `unit` .portable runs the scalar reference the
    /// AVX-512 kernel equals bit for bit (for tests; it is slow).
    public static func narrowAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false,
                                       precision: Precision = .fp32, unit: VectorUnit = .detected) -> Tensor {
        precondition(query.dim(2) % heads == 0 && value.dim(2) % heads == 0 && query.dim(2) / heads <= narrowKernelWidth
                     && value.dim(2) / heads <= narrowKernelWidth, "narrow attention: heads wider than \(narrowKernelWidth)")
        let round = precision == .bf16
        let (q, k, v) = round ? (query.roundedToBFloat16(), key.roundedToBFloat16(), value.roundedToBFloat16())
            : (query, key, value)
        let (b, lq, c) = (q.dim(0), q.dim(1), q.dim(2))
        let lk = k.dim(1), cv = v.dim(2)
        let d = c / heads, dv = cv / heads
        let rowsPerTask = 64
        let blocks = (lq + rowsPerTask - 1) / rowsPerTask
        let tasks = b * heads * blocks
        let scale = 1 / Float(d).squareRoot()
        let next = Atomic<Int>(0)
        return Tensor(shape: [b, lq, cv]) { ob in
            q.data.withUnsafeBufferPointer { qb in
                k.data.withUnsafeBufferPointer { kb in
                    v.data.withUnsafeBufferPointer { vb in
                        let (qp, kp, vp, op) = (qb.baseAddress!, kb.baseAddress!, vb.baseAddress!, ob.baseAddress!)
                        parallelWorkers(min(tasks, ProcessInfoCores.count)) { _ in
                            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Int(HD_NARROW_SCRATCH_FLOATS))
                            defer { scratch.deallocate() }
                            while true {
                                let t = next.wrappingAdd(1, ordering: .relaxed).oldValue
                                if t >= tasks { break }
                                let block = t % blocks, bh = t / blocks
                                let (bi, h) = (bh / heads, bh % heads)
                                let r0 = block * rowsPerTask, r1 = min(lq, r0 + rowsPerTask)
                                hd_attention_narrow(Int32(unit.rawValue), qp + bi * lq * c + h * d, c, r0, r1,
                                                    kp + bi * lk * c + h * d, c, vp + bi * lk * cv + h * dv, cv,
                                                    lk, d, dv, scale, causal ? 1 : 0, round ? 1 : 0, scratch,
                                                    op + (bi * lq + r0) * cv + h * dv, cv)
                            }
                        }
                    }
                }
            }
        }
    }
}
