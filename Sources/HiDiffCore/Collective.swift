/// The one way an op reaches outside its stripe of the feature map (see docs/sharding.md).
///
/// The engine is SPMD over horizontal stripes: every rank runs the same model code on its own rows of the
/// latent. Convolutions ask for halo rows, GroupNorm for a sum over all stripes, global self-attention for
/// every stripe's keys and values. With one shard (`SingleShard`) every call is the identity, so the
/// single-node path is the sharded path with K = 1.
public protocol Collective: Sendable {
    /// This stripe's index, 0 = top.
    var rank: Int { get }
    /// Number of stripes.
    var size: Int { get }
    /// The last `above` rows of the stripe above and the first `below` rows of the stripe below, as NCHW
    /// tensors of the same N, C, W as `x` (an NCHW stripe). Rows beyond the image's border are zeros.
    func haloRows(_ x: Tensor, above: Int, below: Int) -> (above: Tensor, below: Tensor)
    /// Elementwise sum of `values` over all ranks, reduced in rank order (deterministic).
    func allReduceSum(_ values: [Double]) -> [Double]
    /// Every rank's `x` concatenated along `axis` in rank order.
    func allGather(_ x: Tensor, axis: Int) -> Tensor
}

/// The identity collective: one stripe holding the whole map.
public struct SingleShard: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func haloRows(_ x: Tensor, above: Int, below: Int) -> (above: Tensor, below: Tensor) {
        let (n, c, w) = (x.dim(0), x.dim(1), x.dim(3))
        return (Tensor(zeros: [n, c, above, w]), Tensor(zeros: [n, c, below, w]))
    }
    public func allReduceSum(_ values: [Double]) -> [Double] { values }
    public func allGather(_ x: Tensor, axis: Int) -> Tensor { x }
}
