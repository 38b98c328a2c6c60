/// Which part of a collective call a `PeerData` message carries. Raw values are part of the wire format.
public enum PeerOp: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// A stripe's first rows, sent to the rank above (rank - 1). float32.
    case rowsUp = 1
    /// A stripe's last rows, sent to the rank below (rank + 1). float32.
    case rowsDown
    /// One rank's values of an all-reduce, passed around the ring. float64.
    case allReduce
    /// One rank's tensor of an all-gather, passed around the ring. float32.
    case allGather
    /// Rows a rank needs from another rank's stripe (`Collective.fetchRows`), sent by their owner and passed
    /// along the ring towards the rank that needs them. float32.
    case fetchRows

    /// Bytes per element: the element type is implied by the op.
    public var elementSize: Int { self == .allReduce ? 8 : 4 }

    public var description: String {
        switch self {
        case .rowsUp: return "rowsUp"
        case .rowsDown: return "rowsDown"
        case .allReduce: return "allReduce"
        case .allGather: return "allGather"
        case .fetchRows: return "fetchRows"
        }
    }
}
