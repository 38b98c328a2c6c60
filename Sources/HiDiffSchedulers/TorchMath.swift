/// torch's CPU float32 routines used to build noise schedules, reproduced bit for bit.
enum TorchMath {
    /// `torch.linspace(start, end, steps, dtype=torch.float32)` as torch 2.x's CPU kernel computes it:
    /// the first half as `start + step * i`, the second as `end - step * (steps - 1 - i)`, each a fused
    /// multiply-add in the AVX2/AVX-512 builds.
    static func linspace(_ start: Double, _ end: Double, _ steps: Int) -> [Float] {
        let s = Float(start), e = Float(end)
        guard steps > 1 else { return steps == 1 ? [s] : [] }
        let step = (e - s) / Float(steps - 1)
        let halfway = steps / 2
        return (0..<steps).map { i in
            i < halfway ? s.addingProduct(step, Float(i)) : e.addingProduct(-step, Float(steps - i - 1))
        }
    }

    /// `torch.cumprod` of a float32 vector: torch's CPU kernel accumulates in double and rounds each output.
    static func cumprod(_ x: [Float]) -> [Float] {
        var acc = 1.0
        return x.map { v in
            acc *= Double(v)
            return Float(acc)
        }
    }
}
