import HiDiffCore

#if canImport(Glibc)
import Glibc
#endif

/// diffusers' `Timesteps` / `get_timestep_embedding`: sinusoidal features of (possibly fractional) timesteps,
/// computed in float32 exactly as torch does (each product and division rounded to float32).
public struct TimestepProjection: Sendable {
    public var channels: Int
    public var flipSinToCos: Bool
    public var downscaleFreqShift: Float
    public var maxPeriod: Double = 10000

    public init(channels: Int, flipSinToCos: Bool, downscaleFreqShift: Float) {
        self.channels = channels
        self.flipSinToCos = flipSinToCos
        self.downscaleFreqShift = downscaleFreqShift
    }

    /// [timesteps.count, channels].
    public func callAsFunction(_ timesteps: [Float]) -> Tensor {
        let half = channels / 2
        // torch: (-log(max_period) * arange(half, float32)) / (half - shift), exp, all float32.
        let logScale = Float(-log(maxPeriod))
        let denominator = Float(half) - downscaleFreqShift
        let freqs = (0..<half).map { i in expf((logScale * Float(i)) / denominator) }
        return Tensor(shape: [timesteps.count, channels]) { out in
            out.initialize(repeating: 0)  // odd `channels`: torch pads one zero column at the end
            for (b, t) in timesteps.enumerated() {
                let row = out.baseAddress! + b * channels
                let (sinAt, cosAt) = flipSinToCos ? (half, 0) : (0, half)
                for i in 0..<half {
                    let arg = t * freqs[i]
                    row[sinAt + i] = sinf(arg)
                    row[cosAt + i] = cosf(arg)
                }
            }
        }
    }
}
