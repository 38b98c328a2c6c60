import HiDiffCore

/// diffusers' `CrossAttnUpBlock2D` or `UpBlock2D`: per pair, the next skip is concatenated on the channel
/// axis, then resnet (+ transformer); an `Upsample2D` follows unless it is the last block.
public struct UNetUpBlock: Sendable {
    public var index: Int
    public var resnets: [ResnetBlock2D]
    /// One `Transformer2DModel` per resnet; empty for `UpBlock2D`.
    public var attentions: [Transformer2DModel]
    public var upsampler: Upsample2D?

    public var hasCrossAttention: Bool { !attentions.isEmpty }

    /// `inChannels`: the matching down level's input width (the last skip's channels); `prevOutputChannels`:
    /// the incoming map's channels.
    public init(_ w: Weights, index: Int, crossAttention: Bool, inChannels: Int, outChannels: Int,
                prevOutputChannels: Int, layers: Int, heads: Int, transformerLayers: Int, crossAttentionDim: Int,
                addUpsample: Bool, settings s: UNetBlockSettings) throws {
        self.index = index
        resnets = try (0..<layers).map { i in
            let skipChannels = i == layers - 1 ? inChannels : outChannels
            let resnetIn = i == 0 ? prevOutputChannels : outChannels
            return try ResnetBlock2D(w.scoped("resnets").scoped("\(i)"), inChannels: resnetIn + skipChannels,
                                     outChannels: outChannels, timeEmbeddingChannels: s.timeEmbeddingChannels,
                                     groups: s.groups, eps: s.eps, activation: s.activation)
        }
        attentions = crossAttention ? try (0..<layers).map { i in
            try Transformer2DModel(w.scoped("attentions").scoped("\(i)"), stage: .up(index), attention: i,
                                   channels: outChannels, heads: heads, layers: transformerLayers,
                                   crossAttentionDim: crossAttentionDim, groups: s.groups,
                                   useLinearProjection: s.useLinearProjection)
        } : []
        upsampler = addUpsample ? try Upsample2D(w.scoped("upsamplers").scoped("0"), channels: outChannels) : nil
    }

    /// Resnet `i`, then transformer `i` if this is a cross-attention block.
    public func pair(_ i: Int, _ x: Tensor, temb: Tensor, context: Tensor, call: UNetCallContext) throws -> Tensor {
        let h = try resnets[i](x, temb: temb, collective: call.collective)
        return hasCrossAttention ? try attentions[i](h, context: context, call: call) : h
    }

    /// - Parameters:
    ///   - skips: this block's skips in push order (the last one is consumed first), one per resnet.
    ///   - upsampleSize: the size of the next block's first skip (diffusers' forwarded `upsample_size`);
    ///     nil means 2x.
    ///   - restoreSize: RAU-Net op C: bicubic-resize pair 1's output to this size (pair 0's pre-pool size).
    public func callAsFunction(_ x: Tensor, skips: [Tensor], temb: Tensor, context: Tensor,
                               upsampleSize: (height: Int, width: Int)?,
                               restoreSize: (height: Int, width: Int)?, call: UNetCallContext) throws -> Tensor {
        precondition(skips.count == resnets.count, "up_blocks.\(index) takes \(resnets.count) skips")
        var h = x
        for i in resnets.indices {
            let skip = skips[skips.count - 1 - i]
            guard skip.dim(0) == h.dim(0), skip.dim(2) == h.dim(2), skip.dim(3) == h.dim(3) else {
                throw UNetError.skipMismatch(upBlock: index, pair: i, hidden: h.shape, skip: skip.shape)
            }
            h = try pair(i, Tensor.concat([h, skip], axis: 1), temb: temb, context: context, call: call)
            if i == 1, let size = restoreSize {
                h = try h.resizeBicubic(height: size.height, width: size.width, collective: call.collective)
            }
        }
        if let upsampler {
            let size = upsampleSize ?? (2 * h.dim(2), 2 * h.dim(3))
            h = try upsampler(h, height: size.height, width: size.width, collective: call.collective)
        }
        return h
    }
}
