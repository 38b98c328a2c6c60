/// A seed as AUTOMATIC1111 sends it: -1 for a random one.
public enum SeedValue: Sendable, Equatable {
    case random
    case fixed(UInt64)
}
