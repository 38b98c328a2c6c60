/// Stride, padding and dilation of a convolution that keeps its weights but changes its sampling grid.
public struct ConvGeometry: Hashable, Sendable {
    public var stride: Int
    public var padding: Int
    public var dilation: Int

    public init(stride: Int, padding: Int, dilation: Int = 1) {
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

    /// RAU-Net's resolution-aware downsampler: the 3x3 stride-2 weights on a grid twice as coarse
    /// (stride 4, padding 2, dilation 2), giving ceil(n / 4) per axis.
    public static let resolutionAwareDownsampler = ConvGeometry(stride: 4, padding: 2, dilation: 2)
}
