import HiDiffCore

#if canImport(Glibc)
import Glibc
#endif

/// diffusers' `DiagonalGaussianDistribution` over latents: mean and log-variance (clamped to [-30, 20]).
public struct LatentDistribution: Sendable {
    /// [N, latent, h, w].
    public var mean: Tensor
    /// [N, latent, h, w], clamped as diffusers does.
    public var logvar: Tensor

    /// Splits quant_conv's moments [N, 2 * latent, h, w] into mean and clamped logvar.
    public init(moments: Tensor) {
        let parts = moments.chunked(2, axis: 1)
        mean = parts[0]
        logvar = parts[1].map { min(max($0, -30), 20) }
    }

    /// The distribution's mode (`latent_dist.mode()`, `argmax` in `retrieve_latents`).
    public var mode: Tensor { mean }

    /// mean + exp(0.5 * logvar) * noise, with `noise` a standard normal draw of the mean's shape
    /// (`latent_dist.sample(generator)`).
    public func sample(noise: Tensor) -> Tensor {
        precondition(noise.shape == mean.shape, "noise \(noise.shape) for latents \(mean.shape)")
        let std = logvar.map { expf(0.5 * $0) }
        return mean + std * noise
    }
}
