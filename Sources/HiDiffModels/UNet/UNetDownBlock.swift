import HiDiffCore

/// diffusers' `CrossAttnDownBlock2D` (resnet + transformer pairs) or `DownBlock2D` (resnets only),
/// followed by a `Downsample2D` unless it is the last block.
public struct UNetDownBlock: Sendable {
    public var index: Int
    public var resnets: [ResnetBlock2D]
    /// One `Transformer2DModel` per resnet; empty for `DownBlock2D`.
    public var attentions: [Transformer2DModel]
    public var downsampler: Downsample2D?

    public var hasCrossAttention: Bool { !attentions.isEmpty }

    /// What one down block hands back: its output, the skips it pushes (in push order), and, when RAU-Net's
    /// pool ran, pair 0's size before pooling (what the mirrored up block restores).
    public struct Output: Sendable {
        public var hidden: Tensor
        public var skips: [Tensor]
        public var prePoolSize: (height: Int, width: Int)?
    }

    public init(_ w: Weights, index: Int, crossAttention: Bool, inChannels: Int, outChannels: Int, layers: Int,
                heads: Int, transformerLayers: Int, crossAttentionDim: Int, addDownsample: Bool,
                downsamplePadding: Int, settings s: UNetBlockSettings) throws {
        self.index = index
        resnets = try (0..<layers).map { i in
            try ResnetBlock2D(w.scoped("resnets").scoped("\(i)"), inChannels: i == 0 ? inChannels : outChannels,
                              outChannels: outChannels, timeEmbeddingChannels: s.timeEmbeddingChannels,
                              groups: s.groups, eps: s.eps, activation: s.activation)
        }
        attentions = crossAttention ? try (0..<layers).map { i in
            try Transformer2DModel(w.scoped("attentions").scoped("\(i)"), stage: .down(index), attention: i,
                                   channels: outChannels, heads: heads, layers: transformerLayers,
                                   crossAttentionDim: crossAttentionDim, groups: s.groups,
                                   useLinearProjection: s.useLinearProjection)
        } : []
        downsampler = addDownsample
            ? try Downsample2D(w.scoped("downsamplers").scoped("0"), channels: outChannels, padding: downsamplePadding)
            : nil
    }

    /// Resnet `i`, then transformer `i` if this is a cross-attention block.
    public func pair(_ i: Int, _ x: Tensor, temb: Tensor, context: Tensor, call: UNetCallContext) throws -> Tensor {
        let h = try resnets[i](x, temb: temb, collective: call.collective)
        return hasCrossAttention ? try attentions[i](h, context: context, call: call) : h
    }

    public func callAsFunction(_ x: Tensor, temb: Tensor, context: Tensor, call: UNetCallContext) throws -> Output {
        let pooled = call.pooledDownBlocks.contains(index)
        var h = x
        var skips: [Tensor] = []
        var prePoolSize: (height: Int, width: Int)?
        for i in resnets.indices {
            h = try pair(i, h, temb: temb, context: context, call: call)
            if pooled && i == 0 {
                // RAU-Net op B: the pooled map is both pair 0's skip and pair 1's input.
                prePoolSize = (h.dim(2), h.dim(3))
                h = try h.avgPool2x2CeilMode(collective: call.collective)
            }
            skips.append(h)
        }
        if let downsampler {
            h = try downsampler(h, geometry: call.downsamplerGeometry[index], collective: call.collective)
            skips.append(h)
        }
        return Output(hidden: h, skips: skips, prePoolSize: prePoolSize)
    }
}
