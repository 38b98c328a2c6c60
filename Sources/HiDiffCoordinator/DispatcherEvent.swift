import HiDiffProtocol
import HiDiffStore

/// Identifies one worker connection on this coordinator (a reconnecting worker gets a new one).
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    public let value: Int
    public init(_ value: Int) { self.value = value }
    public var description: String { "#\(value)" }
}

/// What happens to the coordinator: worker links, store answers, and the passing of time.
public enum DispatcherEvent: Sendable {
    /// A worker proved the token and registered.
    case registered(ConnectionID, WorkerInfo)
    /// A worker's link closed (cleanly or not).
    case disconnected(ConnectionID, reason: String)
    /// A message from a registered worker.
    case message(ConnectionID, Message)
    /// The answer to a `.claim` action (empty: nothing claimable now).
    case claimed(ConnectionID, [ClaimedJob])
    /// New work may be queued (a NOTIFY or the poll timer).
    case wake
    /// These held jobs were asked to be cancelled by a user.
    case cancelRequested([Lease])
    /// These workers were asked by an admin to drain.
    case drainRequested([String])
    /// The store refused a fenced write: another coordinator owns this job now.
    case leaseLost(Lease)
    /// Periodic tick (lease renewal, cancel and drain polls).
    case tick
}
