/// Where MSW-MSA takes each block call's shift bucket q (0...3; the shift is q * floor(window / 4) per axis).
///
/// The authors draw q from `torch.rand` on torch's unseeded global generator at every block call
/// (hidiffusion.py L1359-1372), so their shifts are neither reproducible nor shared across processes. Here q is
/// a function of (call index, block ordinal): the same on every rerun and on every node of a sharded run.
public enum WindowShiftSource: Sendable {
    /// Uniform over 0...3 from SplitMix64 of (seed, call index, block ordinal).
    case seeded(UInt64)
    /// The same q for every call and block.
    case fixed(Int)
    /// Any function of (call index, block ordinal), e.g. a recorded sequence in tests.
    case explicit(@Sendable (_ callIndex: Int, _ ordinal: Int) -> Int)

    /// The source a generation's settings ask for; `seed` is the generation's seed.
    public init(_ shift: HiDiffusionSettings.WindowShift, seed: UInt64) {
        switch shift {
        case .seeded: self = .seeded(seed)
        case .fixed(let q): self = .fixed(q)
        }
    }

    /// q for block `ordinal` (its index in `HiDiffusionLayout.windowBlocks`) at U-Net call `callIndex`.
    public func bucket(callIndex: Int, ordinal: Int) -> Int {
        switch self {
        case .seeded(let seed):
            let key = (UInt64(truncatingIfNeeded: callIndex) &<< 8) | UInt64(truncatingIfNeeded: ordinal & 0xff)
            return Int(WindowShiftSource.splitMix64(seed &+ WindowShiftSource.splitMix64(key)) >> 62)
        case .fixed(let q):
            return q
        case .explicit(let f):
            return f(callIndex, ordinal)
        }
    }

    /// One SplitMix64 output for state `x` (Steele, Lea, Flood 2014).
    static func splitMix64(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
