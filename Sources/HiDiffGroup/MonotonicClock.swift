import NIOCore

/// Seconds on the event loops' monotonic clock, for the handshake state machines.
enum MonotonicClock {
    static func now() -> Double { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }

    /// `seconds` as a NIO time amount (negative and non-finite values clamp to 0 and a day).
    static func amount(_ seconds: Double) -> TimeAmount {
        guard seconds.isFinite else { return .hours(24) }
        return .nanoseconds(Int64(max(0, min(seconds, 86_400)) * 1e9))
    }
}
