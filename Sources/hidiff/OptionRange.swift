import ArgumentParser

/// Throws "OPTION must be from A to B (got V)" unless `range` holds `value`: one wording for every bounded
/// integer option, so no count or size from the command line can overflow or run without bound.
func requireRange(_ value: Int, _ range: ClosedRange<Int>, option: String) throws {
    guard range.contains(value) else {
        throw ValidationError("\(option) must be from \(range.lowerBound) to \(range.upperBound) (got \(value))")
    }
}
