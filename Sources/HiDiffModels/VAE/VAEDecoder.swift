import HiDiffCore

/// diffusers' VAE `Decoder`: conv_in, mid block, `UpDecoderBlock2D`s (layers_per_block + 1 resnets, then a
/// 2x nearest upsample + conv except after the last), GroupNorm, SiLU, conv_out.
public struct VAEDecoder: Sendable {
    public var convInWeight: LayerWeight, convInBias: Tensor
    public var midBlock: VAEMidBlock
    /// Per up block: its resnets and optional upsampler.
    public var upBlocks: [(resnets: [ResnetBlock2D], upsampler: Upsample2D?)]
    public var normOutWeight: Tensor, normOutBias: Tensor
    public var convOutWeight: LayerWeight, convOutBias: Tensor
    public var groups: Int
    public var activation: DiffusersActivation

    public init(_ w: Weights, config: VAEConfig) throws {
        let act = try DiffusersActivation(configValue: config.actFn, field: "act_fn")
        let reversed = Array(config.blockOutChannels.reversed())
        let groups = config.normNumGroups
        convInWeight = try w.matrix("conv_in.weight", shape: [reversed[0], config.latentChannels, 3, 3])
        convInBias = try w("conv_in.bias", shape: [reversed[0]])
        midBlock = try VAEMidBlock(w.scoped("mid_block"), channels: reversed[0], groups: groups, activation: act)
        var blocks: [(resnets: [ResnetBlock2D], upsampler: Upsample2D?)] = []
        var output = reversed[0]
        for i in reversed.indices {
            let prev = output
            output = reversed[i]
            let bw = w.scoped("up_blocks").scoped("\(i)")
            let resnets = try (0...config.layersPerBlock).map { j in
                try ResnetBlock2D(bw.scoped("resnets").scoped("\(j)"), inChannels: j == 0 ? prev : output,
                                  outChannels: output, timeEmbeddingChannels: nil, groups: groups, eps: 1e-6,
                                  activation: act)
            }
            let upsampler = i == reversed.count - 1 ? nil
                : try Upsample2D(bw.scoped("upsamplers").scoped("0"), channels: output)
            blocks.append((resnets, upsampler))
        }
        upBlocks = blocks
        let first = config.blockOutChannels[0]
        normOutWeight = try w("conv_norm_out.weight", shape: [first])
        normOutBias = try w("conv_norm_out.bias", shape: [first])
        convOutWeight = try w.matrix("conv_out.weight", shape: [config.outChannels, first, 3, 3])
        convOutBias = try w("conv_out.bias", shape: [config.outChannels])
        self.groups = groups
        activation = act
    }

    /// [N, latent, h, w] (after post_quant_conv) -> [N, out, h * f, w * f].
    public func callAsFunction(_ z: Tensor, collective: any Collective) throws -> Tensor {
        var h = try z.conv2d(weight: convInWeight, bias: convInBias, padding: 1, collective: collective)
        h = try midBlock(h, collective: collective)
        for block in upBlocks {
            for resnet in block.resnets { h = try resnet(h, temb: nil, collective: collective) }
            if let upsampler = block.upsampler { h = try upsampler(h, collective: collective) }
        }
        h = try activation.afterGroupNorm(h, groups: groups, weight: normOutWeight, bias: normOutBias, eps: 1e-6,
                                          collective: collective)
        return try h.conv2d(weight: convOutWeight, bias: convOutBias, padding: 1, collective: collective)
    }
}
