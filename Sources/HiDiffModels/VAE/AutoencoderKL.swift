import HiDiffCore

/// diffusers' `AutoencoderKL` (0.29.2) in float32: encoder + quant_conv to a latent Gaussian, and
/// post_quant_conv + decoder back to pixels. Scaling by `scaling_factor` is the pipeline's job.
public struct AutoencoderKL: Sendable {
    public let config: VAEConfig
    public var encoder: VAEEncoder
    public var decoder: VAEDecoder
    public var quantConvWeight: Tensor?, quantConvBias: Tensor?
    public var postQuantConvWeight: Tensor?, postQuantConvBias: Tensor?

    /// Loads every weight (`encoder.*`, `decoder.*`, `quant_conv.*`, `post_quant_conv.*`) as diffusers saves them.
    public init(config: VAEConfig, weights: Weights) throws {
        try config.validate()
        self.config = config
        encoder = try VAEEncoder(weights.scoped("encoder"), config: config)
        decoder = try VAEDecoder(weights.scoped("decoder"), config: config)
        let z = config.latentChannels
        if config.useQuantConv {
            quantConvWeight = try weights("quant_conv.weight", shape: [2 * z, 2 * z, 1, 1])
            quantConvBias = try weights("quant_conv.bias", shape: [2 * z])
        }
        if config.usePostQuantConv {
            postQuantConvWeight = try weights("post_quant_conv.weight", shape: [z, z, 1, 1])
            postQuantConvBias = try weights("post_quant_conv.bias", shape: [z])
        }
    }

    /// Pixels per latent cell along each axis.
    public var downsamplingFactor: Int { config.downsamplingFactor }

    /// `image` [N, in, H, W] in [-1, 1] -> latent distribution at [N, latent, H / f, W / f] (floored, as diffusers).
    public func encode(_ image: Tensor, collective: any Collective = SingleShard()) throws -> LatentDistribution {
        let f = downsamplingFactor
        guard image.rank == 4, image.dim(1) == config.inChannels, image.dim(0) > 0,
              image.dim(2) >= f, image.dim(3) >= f else {
            throw VAEError.invalidInput(name: "image",
                                        expected: "[N, \(config.inChannels), H, W] with H, W >= \(f)",
                                        found: "\(image.shape)")
        }
        guard collective.size == 1 else {
            throw VAEError.notSharded("encode (its downsampler pads the bottom row of the whole image only)")
        }
        var moments = encoder(image, collective: collective)
        if let quantConvWeight {
            moments = moments.conv2d(weight: quantConvWeight, bias: quantConvBias, collective: collective)
        }
        return LatentDistribution(moments: moments)
    }

    /// `latents` [N, latent, h, w] (already divided by the scaling factor) -> [N, out, h * f, w * f].
    public func decode(_ latents: Tensor, collective: any Collective = SingleShard()) throws -> Tensor {
        guard latents.rank == 4, latents.dim(1) == config.latentChannels, latents.dim(0) > 0,
              latents.dim(2) > 0, latents.dim(3) > 0 else {
            throw VAEError.invalidInput(name: "latents", expected: "[N, \(config.latentChannels), h, w]",
                                        found: "\(latents.shape)")
        }
        var z = latents
        if let postQuantConvWeight {
            z = z.conv2d(weight: postQuantConvWeight, bias: postQuantConvBias, collective: collective)
        }
        return decoder(z, collective: collective)
    }
}
