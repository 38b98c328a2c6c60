import HiDiffCore

/// diffusers' `UNet2DConditionModel` (0.29.2) in float32: SD 1.x / 2.x layouts, and SDXL's "text_time"
/// added conditioning.
///
/// Built once from a config and its weights (every tensor is loaded and shape-checked at init). Each call
/// takes a `UNetCallContext`: the call index, the collective that reaches other stripes, and HiDiffusion's
/// per-call switches. The up path always forwards the next skip's size to the upsamplers (diffusers'
/// `forward_upsample_size`), which RAU-Net's resized levels rely on.
public struct UNet2DConditionModel: Sendable {
    public let config: UNetConfig
    public var convInWeight: LayerWeight, convInBias: Tensor
    public var timeProjection: TimestepProjection
    public var timeEmbedding: TimestepEmbedding
    /// SDXL: `add_time_proj` / `add_embedding`.
    public var addTimeProjection: TimestepProjection?
    public var addEmbedding: TimestepEmbedding?
    public var downBlocks: [UNetDownBlock]
    public var midBlock: UNetMidBlock?
    public var upBlocks: [UNetUpBlock]
    public var normOutWeight: Tensor, normOutBias: Tensor
    public var convOutWeight: LayerWeight, convOutBias: Tensor
    public var activation: DiffusersActivation
    let groups: Int
    let crossAttentionDims: [Int]

    /// Loads every weight named as diffusers saves them (`conv_in.weight`, `down_blocks.0.resnets.0.conv1.weight`,
    /// ...). Throws `ModelConfigError` for unsupported options, `WeightError` for missing or misshapen tensors.
    public init(config: UNetConfig, weights: Weights) throws {
        try config.validate()
        self.config = config
        let blocks = try config.resolvedBlocks()
        let act = try DiffusersActivation(configValue: config.actFn, field: "act_fn")
        let groups = config.normNumGroups ?? 32
        let n = config.blockOutChannels.count
        let c0 = config.blockOutChannels[0]
        let temb = config.timeEmbedDim
        activation = act
        self.groups = groups
        crossAttentionDims = blocks.crossAttentionDims

        let kIn = config.convInKernel, kOut = config.convOutKernel
        convInWeight = try weights.matrix("conv_in.weight", shape: [c0, config.inChannels, kIn, kIn])
        convInBias = try weights("conv_in.bias", shape: [c0])
        timeProjection = TimestepProjection(channels: c0, flipSinToCos: config.flipSinToCos,
                                            downscaleFreqShift: Float(config.freqShift))
        timeEmbedding = try TimestepEmbedding(weights.scoped("time_embedding"), inDim: c0, outDim: temb, activation: act)
        if config.addition == "text_time", let dim = config.additionTimeEmbedDim,
           let projected = config.projectionClassEmbeddingsInputDim {
            addTimeProjection = TimestepProjection(channels: dim, flipSinToCos: config.flipSinToCos,
                                                   downscaleFreqShift: Float(config.freqShift))
            // diffusers builds add_embedding with TimestepEmbedding's default act_fn ("silu"), not act_fn.
            addEmbedding = try TimestepEmbedding(weights.scoped("add_embedding"), inDim: projected, outDim: temb,
                                                 activation: .silu)
        }

        let settings = UNetBlockSettings(groups: groups, eps: config.normEps, activation: act,
                                         timeEmbeddingChannels: temb, useLinearProjection: config.useLinearProjection)
        var down: [UNetDownBlock] = []
        var output = c0
        for i in 0..<n {
            let input = output
            output = config.blockOutChannels[i]
            down.append(try UNetDownBlock(
                weights.scoped("down_blocks").scoped("\(i)"), index: i,
                crossAttention: config.downBlockTypes[i] == "CrossAttnDownBlock2D",
                inChannels: input, outChannels: output, layers: blocks.layers[i], heads: blocks.heads[i],
                transformerLayers: blocks.transformerLayers[i], crossAttentionDim: blocks.crossAttentionDims[i],
                addDownsample: i != n - 1, downsamplePadding: config.downsamplePadding, settings: settings))
        }
        downBlocks = down
        if config.midBlockType != nil {
            midBlock = try UNetMidBlock(
                weights.scoped("mid_block"), channels: config.blockOutChannels[n - 1], heads: blocks.heads[n - 1],
                transformerLayers: blocks.transformerLayers[n - 1],
                crossAttentionDim: blocks.crossAttentionDims[n - 1],
                outputScaleFactor: config.midBlockScaleFactor, settings: settings)
        }
        let reversedChannels = Array(config.blockOutChannels.reversed())
        var up: [UNetUpBlock] = []
        output = reversedChannels[0]
        for i in 0..<n {
            let prev = output
            output = reversedChannels[i]
            let r = n - 1 - i  // the mirrored down level
            up.append(try UNetUpBlock(
                weights.scoped("up_blocks").scoped("\(i)"), index: i,
                crossAttention: config.upBlockTypes[i] == "CrossAttnUpBlock2D",
                inChannels: reversedChannels[min(i + 1, n - 1)], outChannels: output, prevOutputChannels: prev,
                layers: blocks.layers[r] + 1, heads: blocks.heads[r], transformerLayers: blocks.transformerLayers[r],
                crossAttentionDim: blocks.crossAttentionDims[r], addUpsample: i != n - 1, settings: settings))
        }
        upBlocks = up
        normOutWeight = try weights("conv_norm_out.weight", shape: [c0])
        normOutBias = try weights("conv_norm_out.bias", shape: [c0])
        convOutWeight = try weights.matrix("conv_out.weight", shape: [config.outChannels, c0, kOut, kOut])
        convOutBias = try weights("conv_out.bias", shape: [config.outChannels])
    }

    /// One denoising call with the same timestep for every sample.
    public func callAsFunction(_ sample: Tensor, timestep: Float, encoderHiddenStates: Tensor,
                               added: UNetAddedConditions? = nil,
                               context: UNetCallContext = .wholeMap) throws -> Tensor {
        try self(sample, timesteps: [timestep], encoderHiddenStates: encoderHiddenStates, added: added,
                 context: context)
    }

    /// One denoising call.
    ///
    /// - Parameters:
    ///   - sample: [B, in_channels, H, W] latents (with several stripes: this rank's rows).
    ///   - timesteps: one value for all samples or one per sample (float, as diffusers casts them).
    ///   - encoderHiddenStates: [B, L, cross_attention_dim] text tokens.
    ///   - added: SDXL's text_embeds and time_ids; required iff `addition_embed_type` is "text_time".
    /// - Returns: [B, out_channels, H, W].
    public func callAsFunction(_ sample: Tensor, timesteps: [Float], encoderHiddenStates: Tensor,
                               added: UNetAddedConditions? = nil,
                               context call: UNetCallContext = .wholeMap) throws -> Tensor {
        try validateInputs(sample, timesteps: timesteps, encoderHiddenStates: encoderHiddenStates, added: added)
        try validate(call)
        let batch = sample.dim(0)
        let emb = embedTime(batch: batch, timesteps: timesteps, added: added)
        let x = config.centerInputSample ? sample.map { 2 * $0 - 1 } : sample
        var h = try x.conv2d(weight: convInWeight, bias: convInBias, padding: (config.convInKernel - 1) / 2,
                         collective: call.collective)

        var skips = [h]
        var prePoolSizes: [Int: (height: Int, width: Int)] = [:]
        for block in downBlocks {
            let out = try block(h, temb: emb, context: encoderHiddenStates, call: call)
            h = out.hidden
            skips += out.skips
            if let size = out.prePoolSize { prePoolSizes[block.index] = size }
        }
        if let midBlock {
            h = try midBlock(h, temb: emb, context: encoderHiddenStates, call: call)
        }
        for block in upBlocks {
            let taken = block.resnets.count
            let mine = Array(skips.suffix(taken))
            skips.removeLast(taken)
            // diffusers' forward_upsample_size: upsample to the size of the next skip to be consumed.
            let nextSkip = block.index == upBlocks.count - 1 ? nil : skips.last
            h = try block(h, skips: mine, temb: emb, context: encoderHiddenStates,
                          upsampleSize: nextSkip.map { ($0.dim(2), $0.dim(3)) },
                          restoreSize: prePoolSizes[upBlocks.count - 1 - block.index], call: call)
        }
        h = try activation.afterGroupNorm(h, groups: groups, weight: normOutWeight, bias: normOutBias,
                                          eps: config.normEps, collective: call.collective)
        return try h.conv2d(weight: convOutWeight, bias: convOutBias, padding: (config.convOutKernel - 1) / 2,
                        collective: call.collective)
    }

    /// time_embedding(time_proj(t)) [+ add_embedding(concat(text_embeds, add_time_proj(time_ids)))].
    func embedTime(batch: Int, timesteps: [Float], added: UNetAddedConditions?) -> Tensor {
        let t = timesteps.count == 1 ? Array(repeating: timesteps[0], count: batch) : timesteps
        var emb = timeEmbedding(timeProjection(t))
        if let addEmbedding, let addTimeProjection, let added {
            let ids = added.timeIds.data
            let timeEmbeds = addTimeProjection(ids).reshaped([batch, -1])
            emb = emb + addEmbedding(Tensor.concat([added.textEmbeds, timeEmbeds], axis: 1))
        }
        return emb
    }
}
