/// One (size, mode) case of the benchmark: its table row and the images behind it (for the contact sheet).
public struct DuplicationCase: Sendable, Equatable {
    public var row: DuplicationRow
    /// One per seed, in seed order.
    public var samples: [DuplicationSample]

    /// Aggregates `samples` (all of `size`, `mode`) into the row.
    public init(size: Int, mode: DuplicationMode, samples: [DuplicationSample]) {
        self.samples = samples
        row = DuplicationRow(size: size, mode: mode, counts: samples.map(\.objects),
                             seconds: samples.reduce(0) { $0 + $1.seconds })
    }
}
