import HiDiffCore

/// diffusers' VAE `Encoder`: conv_in, `DownEncoderBlock2D`s (resnets, then a downsampler with asymmetric
/// padding except after the last), mid block, GroupNorm, SiLU, conv_out to 2 x latent channels.
public struct VAEEncoder: Sendable {
    public var convInWeight: LayerWeight, convInBias: Tensor
    /// Per down block: its resnets and optional downsampler.
    public var downBlocks: [(resnets: [ResnetBlock2D], downsampler: Downsample2D?)]
    public var midBlock: VAEMidBlock
    public var normOutWeight: Tensor, normOutBias: Tensor
    public var convOutWeight: LayerWeight, convOutBias: Tensor
    public var groups: Int
    public var activation: DiffusersActivation

    public init(_ w: Weights, config: VAEConfig) throws {
        let act = try DiffusersActivation(configValue: config.actFn, field: "act_fn")
        let channels = config.blockOutChannels
        let groups = config.normNumGroups
        convInWeight = try w.matrix("conv_in.weight", shape: [channels[0], config.inChannels, 3, 3])
        convInBias = try w("conv_in.bias", shape: [channels[0]])
        var blocks: [(resnets: [ResnetBlock2D], downsampler: Downsample2D?)] = []
        var output = channels[0]
        for i in channels.indices {
            let input = output
            output = channels[i]
            let bw = w.scoped("down_blocks").scoped("\(i)")
            let resnets = try (0..<config.layersPerBlock).map { j in
                try ResnetBlock2D(bw.scoped("resnets").scoped("\(j)"), inChannels: j == 0 ? input : output,
                                  outChannels: output, timeEmbeddingChannels: nil, groups: groups, eps: 1e-6,
                                  activation: act)
            }
            let downsampler = i == channels.count - 1 ? nil
                : try Downsample2D(bw.scoped("downsamplers").scoped("0"), channels: output, padding: 0)
            blocks.append((resnets, downsampler))
        }
        downBlocks = blocks
        let last = channels[channels.count - 1]
        midBlock = try VAEMidBlock(w.scoped("mid_block"), channels: last, groups: groups, activation: act)
        normOutWeight = try w("conv_norm_out.weight", shape: [last])
        normOutBias = try w("conv_norm_out.bias", shape: [last])
        convOutWeight = try w.matrix("conv_out.weight", shape: [2 * config.latentChannels, last, 3, 3])
        convOutBias = try w("conv_out.bias", shape: [2 * config.latentChannels])
        self.groups = groups
        activation = act
    }

    /// [N, in, H, W] image -> [N, 2 * latent, H / f, W / f] moments (before quant_conv).
    public func callAsFunction(_ x: Tensor, collective: any Collective) throws -> Tensor {
        var h = try x.conv2d(weight: convInWeight, bias: convInBias, padding: 1, collective: collective)
        for block in downBlocks {
            for resnet in block.resnets { h = try resnet(h, temb: nil, collective: collective) }
            if let downsampler = block.downsampler { h = try downsampler(h, collective: collective) }
        }
        h = try midBlock(h, collective: collective)
        h = try activation.afterGroupNorm(h, groups: groups, weight: normOutWeight, bias: normOutBias, eps: 1e-6,
                                          collective: collective)
        return try h.conv2d(weight: convOutWeight, bias: convOutBias, padding: 1, collective: collective)
    }
}
