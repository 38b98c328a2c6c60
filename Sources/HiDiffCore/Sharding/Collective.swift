/// The one way an op reaches outside its stripe of the feature map (see docs/sharding.md).
///
/// The engine is SPMD over horizontal stripes: every rank runs the same model code on its own rows, in the
/// same order, so the n-th collective call of every rank is the same op. Transports number the calls and
/// check that every rank agrees on the op, its kind and its shape (`CollectiveError.mismatch` otherwise).
/// Every call can fail (`CollectiveError`): a lost peer, a timeout, a protocol mismatch. After a failure the
/// collective is broken and every later call throws; the caller abandons the step.
///
/// With one shard (`SingleShard`) every call is the identity, so the single-node path is the sharded path
/// with K = 1. No op below the pipeline has a default collective: each is passed down explicitly.
public protocol Collective: Sendable {
    /// This stripe's index, 0 = top.
    var rank: Int { get }
    /// Number of stripes.
    var size: Int { get }

    /// Sender-driven row exchange between vertical neighbours, on NCHW stripes of equal N, C, W.
    ///
    /// This rank sends its first `sendUp` rows to rank - 1 and its last `sendDown` rows to rank + 1, and
    /// receives `receiveAbove` rows from rank - 1 (its last rows) and `receiveBelow` from rank + 1 (its first
    /// rows). The counts must pair up across neighbours (rank r's `sendDown` is rank r+1's `receiveAbove`);
    /// a transport checks the counts it receives and throws `.mismatch` when they differ. Rows beyond the
    /// image's border (above rank 0, below the last rank) are zeros; nothing is sent across the border.
    func exchangeRows(_ x: Tensor, sendUp: Int, sendDown: Int, receiveAbove: Int,
                      receiveBelow: Int) throws -> (above: Tensor, below: Tensor)

    /// Elementwise sum of `values` over all ranks, summed in rank order from zero (deterministic, and the
    /// same bits on every rank and every transport).
    func allReduceSum(_ values: [Double], kind: CollectiveKind) throws -> [Double]

    /// Every rank's `x` concatenated along `axis` in rank order. All dimensions but `axis` must agree.
    func allGather(_ x: Tensor, axis: Int, kind: CollectiveKind) throws -> Tensor

    /// Sender-driven fetch of any rows of the map, from any rank: `x` is this rank's stripe (`axis` holds its
    /// `plan.stripes[rank].count` rows); returns the rows `plan.needs[rank]` along `axis`, in that order (see
    /// `RowFetchPlan.assemble`). Every rank must pass the same plan; each sends only what others need, and
    /// nothing travels when every rank needs only its own rows.
    func fetchRows(_ x: Tensor, axis: Int, plan: RowFetchPlan, kind: CollectiveKind) throws -> Tensor
}

extension Collective {
    /// The common symmetric halo: `above` rows from the stripe above and `below` from the stripe below,
    /// where `above` and `below` are functions of the op alone (the same on every rank), so each sender
    /// knows what its neighbours need.
    public func haloRows(_ x: Tensor, above: Int, below: Int) throws -> (above: Tensor, below: Tensor) {
        try exchangeRows(x, sendUp: below, sendDown: above, receiveAbove: above, receiveBelow: below)
    }

    /// Every rank's stripe (`axis` holding its rows) concatenated in rank order on rank 0, which returns it;
    /// the other ranks return nil. Each stripe travels the short way round to rank 0, once over each link.
    public func gatherRowsToFirst(_ x: Tensor, axis: Int, kind: CollectiveKind) throws -> Tensor? {
        if size == 1 { return x }
        let rows = try stripeRows(x.dim(axis))
        let plan = try RowFetchPlan(stripeRows: rows, needs: [[0..<rows.reduce(0, +)]] + Array(repeating: [], count: size - 1))
        let whole = try fetchRows(x, axis: axis, plan: plan, kind: kind)
        return rank == 0 ? whole : nil
    }

    /// Every rank's stripe height (rows of `localRows` on each rank), in rank order: the global geometry
    /// an op needs when its neighbours' needs depend on where the stripes fall (resizes, windows).
    public func stripeRows(_ localRows: Int) throws -> [Int] {
        if size == 1 { return [localRows] }
        return try allGather(Tensor(shape: [1], data: [Float(localRows)]), axis: 0, kind: .geometry)
            .data.map { Int($0) }
    }
}

/// What a collective call carries, for byte accounting and for checking both sides agree on the op.
public enum CollectiveKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Halo rows for convolutions, pools and resizes.
    case halo = 1
    /// GroupNorm statistics.
    case norm
    /// Keys and values (or tokens) for global and window self-attention.
    case attention
    /// Stripe heights and other small shape facts.
    case geometry
    /// The model output or latents assembled for the scheduler step and checkpoints.
    case latent
    /// Decoded image rows assembled for the result.
    case image

    public var description: String {
        switch self {
        case .halo: return "halo"
        case .norm: return "norm"
        case .attention: return "attention"
        case .geometry: return "geometry"
        case .latent: return "latent"
        case .image: return "image"
        }
    }
}

/// Why a collective call failed. After any of these the group is broken: the step is abandoned on every
/// member and the job resumes from its last checkpoint.
public enum CollectiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The link to a peer closed or failed.
    case peerLost(rank: Int, reason: String)
    /// Nothing arrived from a peer within the timeout.
    case timeout(rank: Int, seconds: Double, waitingFor: String)
    /// A peer sent something other than what this call expects: another sequence number, op, kind, row
    /// count or shape. The ranks are not running the same program (a bug or a hostile peer).
    case mismatch(rank: Int, expected: String, got: String)
    /// This stripe cannot take part as asked (e.g. it has fewer rows than a neighbour needs).
    case invalidStripe(reason: String)
    /// An earlier call failed; the group is unusable.
    case broken(reason: String)

    public var description: String {
        switch self {
        case let .peerLost(rank, reason):
            return "collective: lost the link to rank \(rank): \(reason)"
        case let .timeout(rank, seconds, what):
            return "collective: nothing from rank \(rank) within \(seconds) s while waiting for \(what)"
        case let .mismatch(rank, expected, got):
            return "collective: rank \(rank) is out of step: expected \(expected), got \(got)"
        case let .invalidStripe(reason):
            return "collective: \(reason)"
        case let .broken(reason):
            return "collective: the group failed earlier (\(reason))"
        }
    }
}

/// The identity collective: one stripe holding the whole map.
public struct SingleShard: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func exchangeRows(_ x: Tensor, sendUp: Int, sendDown: Int, receiveAbove: Int,
                             receiveBelow: Int) throws -> (above: Tensor, below: Tensor) {
        let (n, c, w) = (x.dim(0), x.dim(1), x.dim(3))
        return (Tensor(zeros: [n, c, receiveAbove, w]), Tensor(zeros: [n, c, receiveBelow, w]))
    }
    public func allReduceSum(_ values: [Double], kind: CollectiveKind) throws -> [Double] { values }
    public func allGather(_ x: Tensor, axis: Int, kind: CollectiveKind) throws -> Tensor { x }
    public func fetchRows(_ x: Tensor, axis: Int, plan: RowFetchPlan, kind: CollectiveKind) throws -> Tensor {
        try plan.check(x, axis: axis, rank: 0, size: 1)
        return plan.assemble(rank: 0, axis: axis, local: x) { _ in x }
    }
}
