import HiDiffCore

/// diffusers' `FeedForward` with the GEGLU activation (the SD transformer blocks' MLP):
/// `ff.net.0.proj` [2 * inner, dim], a * gelu(gate), `ff.net.2` [dim, inner].
public struct GEGLUFeedForward: Sendable {
    public var projWeight: LayerWeight, projBias: Tensor
    public var outWeight: LayerWeight, outBias: Tensor

    public init(_ w: Weights, dim: Int, mult: Int = 4) throws {
        let inner = dim * mult
        projWeight = try w.matrix("net.0.proj.weight", shape: [inner * 2, dim])
        projBias = try w("net.0.proj.bias", shape: [inner * 2])
        outWeight = try w.matrix("net.2.weight", shape: [dim, inner])
        outBias = try w("net.2.bias", shape: [dim])
    }

    /// [..., dim] -> [..., dim].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.feedForwardGEGLU(proj: projWeight, projBias: projBias, out: outWeight, outBias: outBias)
    }
}
