import HiDiffCore

/// diffusers' `Downsample2D` with a conv: 3x3, stride 2, `padding` on every side; with padding 0 (the VAE
/// encoder) diffusers first zero-pads one row/column at the bottom/right only, then convolves unpadded.
public struct Downsample2D: Sendable {
    public var weight: LayerWeight, bias: Tensor
    public var padding: Int

    public init(_ w: Weights, channels: Int, outChannels: Int? = nil, padding: Int) throws {
        weight = try w.matrix("conv.weight", shape: [outChannels ?? channels, channels, 3, 3])
        bias = try w("conv.bias", shape: [outChannels ?? channels])
        self.padding = padding
    }

    /// The vanilla geometry (stride 2), or `geometry` with the same weights (RAU-Net's downsampler).
    public func callAsFunction(_ x: Tensor, geometry: ConvGeometry? = nil,
                               collective: any Collective) throws -> Tensor {
        if let g = geometry {
            return try x.conv2d(weight: weight, bias: bias, stride: g.stride, padding: g.padding,
                            dilation: g.dilation, collective: collective)
        }
        if padding == 0 {
            // Asymmetric (0, 1, 0, 1) padding: the extra bottom row is the last stripe's only.
            return try x.conv2d(weight: weight, bias: bias, stride: 2, padTop: 0, padBottom: 1, padLeft: 0,
                                padRight: 1, dilation: 1, collective: collective)
        }
        return try x.conv2d(weight: weight, bias: bias, stride: 2, padding: padding, collective: collective)
    }
}
