import HiDiffCore

extension WireTensor {
    /// The engine's tensor as it travels: the same shape and float32 values.
    public init(_ tensor: Tensor) {
        self.init(shape: tensor.shape, data: tensor.data)
    }

    /// The engine's tensor (the decoder already checked that the shape matches the values).
    public var tensor: Tensor { Tensor(shape: shape, data: data) }
}
