import HiDiffCore

/// diffusers' `UNetMidBlock2DCrossAttn`: resnet, then (transformer, resnet) pairs.
public struct UNetMidBlock: Sendable {
    public var resnets: [ResnetBlock2D]
    public var attentions: [Transformer2DModel]

    public init(_ w: Weights, channels: Int, heads: Int, transformerLayers: Int, crossAttentionDim: Int,
                outputScaleFactor: Float, settings s: UNetBlockSettings, layers: Int = 1) throws {
        resnets = try (0...layers).map { i in
            try ResnetBlock2D(w.scoped("resnets").scoped("\(i)"), inChannels: channels, outChannels: channels,
                              timeEmbeddingChannels: s.timeEmbeddingChannels, groups: s.groups, eps: s.eps,
                              activation: s.activation, outputScaleFactor: outputScaleFactor)
        }
        attentions = try (0..<layers).map { i in
            try Transformer2DModel(w.scoped("attentions").scoped("\(i)"), stage: .mid, attention: i,
                                   channels: channels, heads: heads, layers: transformerLayers,
                                   crossAttentionDim: crossAttentionDim, groups: s.groups,
                                   useLinearProjection: s.useLinearProjection)
        }
    }

    public func callAsFunction(_ x: Tensor, temb: Tensor, context: Tensor, call: UNetCallContext) throws -> Tensor {
        var h = try resnets[0](x, temb: temb, collective: call.collective)
        for (attention, resnet) in zip(attentions, resnets.dropFirst()) {
            h = try attention(h, context: context, call: call)
            h = try resnet(h, temb: temb, collective: call.collective)
        }
        return h
    }
}
