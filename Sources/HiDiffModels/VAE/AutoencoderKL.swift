import HiDiffCore

/// diffusers' `AutoencoderKL` (0.29.2) in float32: encoder + quant_conv to a latent Gaussian, and
/// post_quant_conv + decoder back to pixels. Scaling by `scaling_factor` is the pipeline's job.
public struct AutoencoderKL: Sendable {
    public let config: VAEConfig
    public var encoder: VAEEncoder
    public var decoder: VAEDecoder
    public var quantConvWeight: LayerWeight?, quantConvBias: Tensor?
    public var postQuantConvWeight: LayerWeight?, postQuantConvBias: Tensor?

    /// Loads every weight (`encoder.*`, `decoder.*`, `quant_conv.*`, `post_quant_conv.*`) as diffusers saves them.
    public init(config: VAEConfig, weights: Weights) throws {
        try config.validate()
        self.config = config
        encoder = try VAEEncoder(weights.scoped("encoder"), config: config)
        decoder = try VAEDecoder(weights.scoped("decoder"), config: config)
        let z = config.latentChannels
        if config.useQuantConv {
            quantConvWeight = try weights.matrix("quant_conv.weight", shape: [2 * z, 2 * z, 1, 1])
            quantConvBias = try weights("quant_conv.bias", shape: [2 * z])
        }
        if config.usePostQuantConv {
            postQuantConvWeight = try weights.matrix("post_quant_conv.weight", shape: [z, z, 1, 1])
            postQuantConvBias = try weights("post_quant_conv.bias", shape: [z])
        }
    }

    /// Pixels per latent cell along each axis.
    public var downsamplingFactor: Int { config.downsamplingFactor }

    /// `image` [N, in, H, W] in [-1, 1] -> latent distribution at [N, latent, H / f, W / f] (floored, as diffusers).
    public func encode(_ image: Tensor) throws -> LatentDistribution {
        try encode(image, collective: SingleShard())
    }

    /// `encode` on this rank's stripe of the image (rows a multiple of the downsampling factor but the last).
    public func encode(_ image: Tensor, collective: any Collective) throws -> LatentDistribution {
        let f = downsamplingFactor
        guard image.rank == 4, image.dim(1) == config.inChannels, image.dim(0) > 0,
              image.dim(2) >= f, image.dim(3) >= f else {
            throw VAEError.invalidInput(name: "image",
                                        expected: "[N, \(config.inChannels), H, W] with H, W >= \(f)",
                                        found: "\(image.shape)")
        }
        var moments = try encoder(image, collective: collective)
        if let quantConvWeight {
            moments = try moments.conv2d(weight: quantConvWeight, bias: quantConvBias, collective: collective)
        }
        return LatentDistribution(moments: moments)
    }

    /// `latents` [N, latent, h, w] (already divided by the scaling factor) -> [N, out, h * f, w * f].
    public func decode(_ latents: Tensor) throws -> Tensor {
        try decode(latents, collective: SingleShard())
    }

    /// `decode` on this rank's stripe of the latents; returns this stripe's rows of the image.
    public func decode(_ latents: Tensor, collective: any Collective) throws -> Tensor {
        guard latents.rank == 4, latents.dim(1) == config.latentChannels, latents.dim(0) > 0,
              latents.dim(2) > 0, latents.dim(3) > 0 else {
            throw VAEError.invalidInput(name: "latents", expected: "[N, \(config.latentChannels), h, w]",
                                        found: "\(latents.shape)")
        }
        var z = latents
        if let postQuantConvWeight {
            z = try z.conv2d(weight: postQuantConvWeight, bias: postQuantConvBias, collective: collective)
        }
        return try decoder(z, collective: collective)
    }
}
