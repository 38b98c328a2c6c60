/// Range checks shared by the model configs; each throws `ModelConfigError.outOfRange`.
struct ConfigValueChecker {
    /// The config file (or component) named in errors.
    let file: String

    /// Largest channel, size or count accepted anywhere in a config (keeps products far from overflow).
    static let maxSize = 1 << 20

    func fail(_ field: String, _ value: String, _ expected: String) -> ModelConfigError {
        .outOfRange(file: file, field: field, value: value, expected: expected)
    }

    /// `value` in `1...maxSize`.
    func positive(_ field: String, _ value: Int) throws {
        guard value > 0, value <= Self.maxSize else {
            throw fail(field, "\(value)", "a positive integer up to \(Self.maxSize)")
        }
    }

    /// `value` in `0...maxSize`.
    func nonNegative(_ field: String, _ value: Int) throws {
        guard value >= 0, value <= Self.maxSize else {
            throw fail(field, "\(value)", "an integer from 0 to \(Self.maxSize)")
        }
    }

    /// Every entry positive (`allowZero`: non-negative).
    func all(_ field: String, _ values: [Int], allowZero: Bool = false) throws {
        for v in values {
            if allowZero { try nonNegative(field, v) } else { try positive(field, v) }
        }
    }

    /// A finite epsilon in `(0, 1)`.
    func epsilon(_ field: String, _ value: Double) throws {
        guard value.isFinite, value > 0, value < 1 else {
            throw fail(field, "\(value)", "a finite number greater than 0 and less than 1 (typically 1e-5 or 1e-6)")
        }
    }

    /// A group count that is positive and divides every channel count it normalises.
    func groups(_ field: String, _ groups: Int, channels: [Int]) throws {
        try positive(field, groups)
        for ch in channels where ch % groups != 0 {
            throw fail(field, "\(groups)", "a positive divisor of every block_out_channels entry (\(ch) is not divisible)")
        }
    }
}
