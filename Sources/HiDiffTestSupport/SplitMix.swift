import HiDiffCore

/// A tiny deterministic generator for test inputs (SplitMix64), uniform in [-1, 1).
public struct SplitMix: Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> Float {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        z ^= z >> 31
        return Float(z >> 40) / Float(1 << 24) * 2 - 1
    }

    /// A whole number in `range` (not empty), from the next value.
    public mutating func int(in range: Range<Int>) -> Int {
        precondition(!range.isEmpty, "a number from an empty range")
        return range.lowerBound + min(range.count - 1, Int((next() + 1) / 2 * Float(range.count)))
    }

    /// A tensor of `shape` filled with the next values.
    public mutating func tensor(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in next() })
    }
}
