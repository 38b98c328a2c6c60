import HiDiffCore

/// diffusers' `Downsample2D` with a conv: 3x3, stride 2, `padding` on every side; with padding 0 (the VAE
/// encoder) diffusers first zero-pads one row/column at the bottom/right only, then convolves unpadded.
public struct Downsample2D: Sendable {
    public var weight: Tensor, bias: Tensor
    public var padding: Int

    public init(_ w: Weights, channels: Int, outChannels: Int? = nil, padding: Int) throws {
        weight = try w("conv.weight", shape: [outChannels ?? channels, channels, 3, 3])
        bias = try w("conv.bias", shape: [outChannels ?? channels])
        self.padding = padding
    }

    /// The vanilla geometry (stride 2), or `geometry` with the same weights (RAU-Net's downsampler).
    public func callAsFunction(_ x: Tensor, geometry: ConvGeometry? = nil,
                               collective: any Collective = SingleShard()) -> Tensor {
        if let g = geometry {
            return x.conv2d(weight: weight, bias: bias, stride: g.stride, padding: g.padding,
                            dilation: g.dilation, collective: collective)
        }
        if padding == 0 {
            // Asymmetric (0, 1, 0, 1) padding. Not stripe-aware: the bottom row belongs to the last stripe only.
            precondition(collective.size == 1, "the VAE encoder's asymmetric downsampler is not sharded yet")
            return x.padded(top: 0, bottom: 1, left: 0, right: 1)
                .conv2d(weight: weight, bias: bias, stride: 2, padding: 0)
        }
        return x.conv2d(weight: weight, bias: bias, stride: 2, padding: padding, collective: collective)
    }
}
