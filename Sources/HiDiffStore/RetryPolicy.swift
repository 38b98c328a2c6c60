import Foundation

/// Backoff before a retryable failure's next attempt: `base^attempt` seconds, capped at `cap`.
public struct RetryPolicy: Sendable {
    /// The exponential base (seconds for the first retry).
    public var base: Double = 2
    /// The longest delay in seconds.
    public var cap: Double = 300

    /// Creates a policy.
    public init(base: Double = 2, cap: Double = 300) {
        self.base = base
        self.cap = cap
    }

    /// The delay in seconds after attempt `afterAttempt` (1-based) failed.
    public func delay(afterAttempt attempt: Int) -> Double {
        min(cap, pow(base, Double(max(attempt, 0))))
    }
}
