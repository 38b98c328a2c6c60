import HiDiffCore

/// diffusers' `TimestepEmbedding`: linear_1, activation, linear_2.
public struct TimestepEmbedding: Sendable {
    public var linear1Weight: LayerWeight, linear1Bias: Tensor
    public var linear2Weight: LayerWeight, linear2Bias: Tensor
    public var activation: DiffusersActivation

    /// Loads `linear_1` [outDim, inDim] and `linear_2` [outDim, outDim] from `weights`.
    public init(_ weights: Weights, inDim: Int, outDim: Int, activation: DiffusersActivation) throws {
        linear1Weight = try weights.matrix("linear_1.weight", shape: [outDim, inDim])
        linear1Bias = try weights("linear_1.bias", shape: [outDim])
        linear2Weight = try weights.matrix("linear_2.weight", shape: [outDim, outDim])
        linear2Bias = try weights("linear_2.bias", shape: [outDim])
        self.activation = activation
    }

    /// [B, inDim] -> [B, outDim].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = activation(x.linear(weight: linear1Weight, bias: linear1Bias))
        return h.linear(weight: linear2Weight, bias: linear2Bias)
    }
}
