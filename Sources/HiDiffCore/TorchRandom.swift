import Foundation

/// A CPU random generator that reproduces `torch.Generator("cpu").manual_seed(seed)` and
/// `torch.randn(shape, generator:)` bit for bit for float32 tensors, as torch 2.x computes them on x86-64
/// CPUs with AVX2 (what diffusers uses for `--seed`).
///
/// The stream continues across calls, so ancestral samplers that draw fresh noise every step from the
/// pipeline's generator see the same numbers as diffusers.
public struct TorchGenerator: Sendable {
    private(set) var engine: MersenneTwister
    /// torch's double-precision Box-Muller draws pairs and keeps the second value in the generator for the
    /// next element (used only by tensors of fewer than 16 elements); `manual_seed` clears it.
    private(set) var cachedNormal: Double?

    /// A generator in the state `torch.Generator("cpu").manual_seed(seed)` leaves it in.
    public init(seed: UInt64) {
        engine = MersenneTwister(seed: seed)
        cachedNormal = nil
    }

    /// A generator from restored parts (see `init(state:)`).
    init(engine: MersenneTwister, cachedNormal: Double?) {
        self.engine = engine
        self.cachedNormal = cachedNormal
    }

    /// Standard-normal float32 noise of `shape`, equal to `torch.randn(shape, generator: self)`.
    public mutating func randn(_ shape: [Int]) -> Tensor {
        let count = Tensor.elementCount(shape)
        if count >= 16 {
            return Tensor(shape: shape) { fillNormal16($0) }
        }
        // Fewer than 16 elements: torch's scalar path (double-precision Box-Muller, 53-bit uniforms).
        return Tensor(shape: shape) { out in
            for i in 0..<out.count { out[i] = Float(nextDoubleNormal()) }
        }
    }

    /// One float uniform in [0, 1): 24 random bits, as `uniform_real_distribution<float>(0, 1)`.
    @inline(__always)
    private mutating func nextFloatUniform() -> Float {
        Float(engine.next() & 0x00ff_ffff) * 0x1p-24
    }

    /// One double uniform in [0, 1): 53 bits of a 64-bit draw (high word first).
    private mutating func nextDoubleUniform() -> Double {
        let hi = UInt64(engine.next())
        let lo = UInt64(engine.next())
        return Double(((hi << 32) | lo) & ((1 << 53) - 1)) * 0x1p-53
    }

    /// `at::normal_distribution<double>(0, 1)` including its cached second value.
    private mutating func nextDoubleNormal() -> Double {
        if let cached = cachedNormal {
            cachedNormal = nil
            return cached + 0.0
        }
        let u1 = nextDoubleUniform()
        let u2 = nextDoubleUniform()
        let r = (-2.0 * Foundation.log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        cachedNormal = r * Foundation.sin(theta)
        return r * Foundation.cos(theta) + 0.0  // `* std + mean` turns -0 into +0
    }

    /// torch's `normal_fill_AVX2`: all uniforms first, Box-Muller per block of 16 (lane j pairs with j + 8),
    /// and for a ragged end 16 fresh uniforms over the last 16 elements, transformed again.
    private mutating func fillNormal16(_ out: UnsafeMutableBufferPointer<Float>) {
        let n = out.count
        for i in 0..<n { out[i] = nextFloatUniform() }
        var offset = 0
        while offset + 16 <= n {
            Self.boxMuller16(out.baseAddress! + offset)
            offset += 16
        }
        if n % 16 != 0 {
            let tail = out.baseAddress! + (n - 16)
            for i in 0..<16 { tail[i] = nextFloatUniform() }
            Self.boxMuller16(tail)
        }
    }

    /// `normal_fill_16_AVX2` with mean 0 and std 1 (the final `fma(x, 1, 0)` turns -0 into +0).
    @inline(__always)
    private static func boxMuller16(_ d: UnsafeMutablePointer<Float>) {
        let twoPi = Float(2.0 * Double.pi)
        for j in 0..<8 {
            let u1 = 1 - d[j]
            let u2 = d[j + 8]
            let radius = (-2 * CephesAVX2.log(u1)).squareRoot()
            let (s, c) = CephesAVX2.sincos(twoPi * u2)
            d[j] = radius * c + 0
            d[j + 8] = radius * s + 0
        }
    }
}
