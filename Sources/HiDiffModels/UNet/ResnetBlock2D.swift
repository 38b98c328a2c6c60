import HiDiffCore

/// diffusers' `ResnetBlock2D` ("default" time-embedding norm): GroupNorm, activation, 3x3 conv, plus the
/// projected time embedding, GroupNorm, activation, 3x3 conv; the input (1x1-projected when the channel
/// count changes) is added and the sum divided by `outputScaleFactor`.
public struct ResnetBlock2D: Sendable {
    public var norm1Weight: Tensor, norm1Bias: Tensor
    public var conv1Weight: LayerWeight, conv1Bias: Tensor
    /// `time_emb_proj` [out, temb]; nil in the VAE, which has no time embedding.
    public var timeProjWeight: LayerWeight?, timeProjBias: Tensor?
    public var norm2Weight: Tensor, norm2Bias: Tensor
    public var conv2Weight: LayerWeight, conv2Bias: Tensor
    /// `conv_shortcut` 1x1, present iff in != out channels.
    public var shortcutWeight: LayerWeight?, shortcutBias: Tensor?
    public var groups: Int
    public var eps: Float
    public var activation: DiffusersActivation
    public var outputScaleFactor: Float
    public let inChannels: Int, outChannels: Int

    public init(_ w: Weights, inChannels: Int, outChannels: Int, timeEmbeddingChannels: Int?,
                groups: Int, eps: Float, activation: DiffusersActivation, outputScaleFactor: Float = 1) throws {
        guard inChannels % groups == 0, outChannels % groups == 0 else {
            throw ModelConfigError.invalid(
                field: "norm_num_groups",
                reason: "(\(groups)) does not divide a resnet's channels \(inChannels) -> \(outChannels)")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        norm1Weight = try w("norm1.weight", shape: [inChannels])
        norm1Bias = try w("norm1.bias", shape: [inChannels])
        conv1Weight = try w.matrix("conv1.weight", shape: [outChannels, inChannels, 3, 3])
        conv1Bias = try w("conv1.bias", shape: [outChannels])
        if let t = timeEmbeddingChannels {
            timeProjWeight = try w.matrix("time_emb_proj.weight", shape: [outChannels, t])
            timeProjBias = try w("time_emb_proj.bias", shape: [outChannels])
        }
        norm2Weight = try w("norm2.weight", shape: [outChannels])
        norm2Bias = try w("norm2.bias", shape: [outChannels])
        conv2Weight = try w.matrix("conv2.weight", shape: [outChannels, outChannels, 3, 3])
        conv2Bias = try w("conv2.bias", shape: [outChannels])
        if inChannels != outChannels {
            shortcutWeight = try w.matrix("conv_shortcut.weight", shape: [outChannels, inChannels, 1, 1])
            shortcutBias = try w("conv_shortcut.bias", shape: [outChannels])
        }
        self.groups = groups
        self.eps = eps
        self.activation = activation
        self.outputScaleFactor = outputScaleFactor
    }

    /// `x` [N, in, H, W], `temb` [N, temb] (required iff the block has `time_emb_proj`) -> [N, out, H, W].
    public func callAsFunction(_ x: Tensor, temb: Tensor?, collective: any Collective) throws -> Tensor {
        var h = try activation.afterGroupNorm(x, groups: groups, weight: norm1Weight, bias: norm1Bias, eps: eps,
                                              collective: collective)
        h = try h.conv2d(weight: conv1Weight, bias: conv1Bias, padding: 1, collective: collective)
        if let timeProjWeight, let temb {
            let t = activation(temb).linear(weight: timeProjWeight, bias: timeProjBias)
            h = h.addingChannelwise(t)
        }
        h = try activation.afterGroupNorm(h, groups: groups, weight: norm2Weight, bias: norm2Bias, eps: eps,
                                          collective: collective)
        h = try h.conv2d(weight: conv2Weight, bias: conv2Bias, padding: 1, collective: collective)
        var shortcut = x
        if let shortcutWeight {
            shortcut = try x.conv2d(weight: shortcutWeight, bias: shortcutBias, collective: collective)
        }
        let sum = shortcut + h
        return outputScaleFactor == 1 ? sum : sum / outputScaleFactor
    }
}
