/// Why a group could not be formed or a listener not used: local configuration, not a peer's behaviour (peers'
/// failures are `CollectiveError`s).
public enum GroupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The roster cannot describe a group (no members, rank out of range, too many members).
    case invalidRoster(reason: String)
    /// A peer address is not `host:port` with a port in 1...65535.
    case invalidAddress(String)
    /// This listener already has a pending join for that group and rank.
    case alreadyJoining(groupID: UInt64, rank: Int)
    /// The listener was closed before the link arrived.
    case listenerClosed
    /// The member at `address` answered but could not prove it holds this group's token.
    case authenticationFailed(rank: Int, address: String)
    /// The listener could not bind its address.
    case bindFailed(address: String, reason: String)

    public var description: String {
        switch self {
        case .invalidRoster(let reason):
            return "group roster: \(reason)"
        case .invalidAddress(let text):
            return "peer address \"\(text)\" is not host:port with a port in 1...65535"
        case let .alreadyJoining(groupID, rank):
            return "group \(groupID): rank \(rank) is already joining through this listener"
        case let .authenticationFailed(rank, address):
            return "rank \(rank) at \(address) failed authentication (it does not hold this group's token)"
        case .listenerClosed:
            return "the peer listener was closed"
        case let .bindFailed(address, reason):
            return "peer listener could not bind \(address): \(reason)"
        }
    }
}
