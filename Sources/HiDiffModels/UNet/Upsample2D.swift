import HiDiffCore

/// diffusers' `Upsample2D` with a conv: legacy-nearest resize, then a 3x3 conv (padding 1).
public struct Upsample2D: Sendable {
    public var weight: LayerWeight, bias: Tensor

    public init(_ w: Weights, channels: Int, outChannels: Int? = nil) throws {
        weight = try w.matrix("conv.weight", shape: [outChannels ?? channels, channels, 3, 3])
        bias = try w("conv.bias", shape: [outChannels ?? channels])
    }

    /// Resizes to exactly `height` x `width` (diffusers' `output_size`, which the U-Net always forwards here:
    /// the size of the next skip; equal to 2x for even maps), then convolves.
    public func callAsFunction(_ x: Tensor, height: Int, width: Int,
                               collective: any Collective) throws -> Tensor {
        try x.upsampleNearest(height: height, width: width, collective: collective)
            .conv2d(weight: weight, bias: bias, padding: 1, collective: collective)
    }

    /// The 2x nearest upsample + conv (`output_size` None), as the VAE decoder uses it.
    public func callAsFunction(_ x: Tensor, collective: any Collective) throws -> Tensor {
        try self(x, height: 2 * x.dim(2), width: 2 * x.dim(3), collective: collective)
    }
}
