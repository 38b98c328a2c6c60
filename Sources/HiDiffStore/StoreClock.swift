import Foundation

/// Where the store gets "now" from. Every timestamp the store writes or compares comes from its clock and
/// is passed to PostgreSQL as a parameter (no `now()` in SQL), so tests can drive time with `ManualClock`.
public protocol StoreClock: Sendable {
    /// The current time.
    func now() -> Date
}

/// The wall clock.
public struct SystemClock: StoreClock {
    /// Creates the wall clock.
    public init() {}
    /// `Date()`.
    public func now() -> Date { Date() }
}
