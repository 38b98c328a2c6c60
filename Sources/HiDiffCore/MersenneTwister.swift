/// The 32-bit MT19937 engine exactly as PyTorch's CPU generator runs it (`at::mt19937`).
///
/// Seeding uses the low 32 bits of the seed (`init_genrand`); outputs are the standard tempered words,
/// so the stream matches `torch.Generator("cpu").manual_seed(seed)` word for word.
public struct MersenneTwister: Sendable {
    private static let n = 624
    private static let m = 397
    private static let matrixA: UInt32 = 0x9908_b0df
    private static let upperMask: UInt32 = 0x8000_0000
    private static let lowerMask: UInt32 = 0x7fff_ffff

    private var state: [UInt32]
    private var index: Int

    /// Seeds the engine with `seed & 0xffffffff`, as torch's `mt19937(uint64_t seed)` does.
    public init(seed: UInt64) {
        var s = [UInt32](repeating: 0, count: Self.n)
        s[0] = UInt32(truncatingIfNeeded: seed)
        for j in 1..<Self.n {
            let prev = s[j - 1]
            s[j] = 1_812_433_253 &* (prev ^ (prev >> 30)) &+ UInt32(j)
        }
        state = s
        index = Self.n  // the first draw regenerates the whole state block
    }

    /// Restores an engine from `words` (its 624 state words) and `wordIndex` (0...624: how many of them
    /// have been used since the last regeneration), as another engine's `words` and `wordIndex` report them.
    /// Nil when the counts are out of range.
    public init?(words: [UInt32], wordIndex: Int) {
        guard words.count == Self.n, (0...Self.n).contains(wordIndex) else { return nil }
        state = words
        index = wordIndex
    }

    /// The 624 state words (with `wordIndex`, the engine's whole state).
    public var words: [UInt32] { state }

    /// How many state words have been used since the last regeneration (624: the next draw regenerates).
    public var wordIndex: Int { index }

    /// The next tempered 32-bit word.
    @inlinable
    public mutating func next() -> UInt32 {
        nextWord()
    }

    @usableFromInline
    mutating func nextWord() -> UInt32 {
        if index >= Self.n { regenerate() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    private mutating func regenerate() {
        state.withUnsafeMutableBufferPointer { s in
            @inline(__always) func twist(_ u: UInt32, _ v: UInt32) -> UInt32 {
                let mixed = (u & Self.upperMask) | (v & Self.lowerMask)
                return (mixed >> 1) ^ ((v & 1) != 0 ? Self.matrixA : 0)
            }
            for k in 0..<(Self.n - Self.m) {
                s[k] = s[k + Self.m] ^ twist(s[k], s[k + 1])
            }
            for k in (Self.n - Self.m)..<(Self.n - 1) {
                s[k] = s[k + Self.m - Self.n] ^ twist(s[k], s[k + 1])
            }
            s[Self.n - 1] = s[Self.m - 1] ^ twist(s[Self.n - 1], s[0])
        }
        index = 0
    }
}
