import HiDiffCore

/// diffusers' `UNetMidBlock2D` as the VAE uses it: resnet, attention, resnet (no time embedding, eps 1e-6).
public struct VAEMidBlock: Sendable {
    public var resnets: [ResnetBlock2D]
    public var attention: VAEAttentionBlock

    public init(_ w: Weights, channels: Int, groups: Int, activation: DiffusersActivation) throws {
        resnets = try (0..<2).map { i in
            try ResnetBlock2D(w.scoped("resnets").scoped("\(i)"), inChannels: channels, outChannels: channels,
                              timeEmbeddingChannels: nil, groups: groups, eps: 1e-6, activation: activation)
        }
        attention = try VAEAttentionBlock(w.scoped("attentions").scoped("0"), channels: channels, groups: groups,
                                          eps: 1e-6)
    }

    public func callAsFunction(_ x: Tensor, collective: any Collective) throws -> Tensor {
        let h = try resnets[0](x, temb: nil, collective: collective)
        return try resnets[1](attention(h, collective: collective), temb: nil, collective: collective)
    }
}
