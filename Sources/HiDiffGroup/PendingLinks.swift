import HiDiffProtocol
import NIOCore
import Synchronization

/// The joins a `PeerListener` is waiting for: for each (group, acceptor rank), which rank may dial in, the
/// group's size and token, and the promise that completes with the link. Shared by the listener's channel
/// handlers (event loops) and joining members; one per listener, never global.
final class PendingLinks: Sendable {
    struct Key: Hashable, Sendable {
        var groupID: UInt64
        var rank: Int
    }

    struct Entry: Sendable {
        var size: Int
        var dialer: Int
        var token: [UInt8]
        var promise: EventLoopPromise<PeerLink>
    }

    private let state = Mutex<(entries: [Key: Entry], closed: Bool)>(([:], false))

    /// Starts waiting for the link into `key`; throws if a join for it is already pending or the listener closed.
    func register(_ key: Key, _ entry: Entry) throws {
        try state.withLock { state in
            guard !state.closed else { throw GroupError.listenerClosed }
            guard state.entries[key] == nil else {
                throw GroupError.alreadyJoining(groupID: key.groupID, rank: key.rank)
            }
            state.entries[key] = entry
        }
    }

    /// Whether `hello` names a pending join that it may take: the group's token, or why not.
    func check(_ hello: PeerHello) -> Result<[UInt8], Refusal> {
        state.withLock { state in
            guard let entry = state.entries[Key(groupID: hello.groupID, rank: hello.acceptor)] else {
                return .failure(Refusal("unknown group \(hello.groupID) (no rank \(hello.acceptor) of it is "
                                        + "waiting for links here)"))
            }
            guard entry.size == hello.size else {
                return .failure(Refusal("group \(hello.groupID) has \(entry.size) members here, not \(hello.size)"))
            }
            guard entry.dialer == hello.dialer else {
                return .failure(Refusal("group \(hello.groupID): rank \(hello.acceptor) expects a link from rank "
                                        + "\(entry.dialer), not \(hello.dialer)"))
            }
            return .success(entry.token)
        }
    }

    /// Removes and returns the entry `hello` names (after the dialer authenticated); nil when it is gone.
    func claim(_ hello: PeerHello) -> Entry? {
        state.withLock { state in
            let key = Key(groupID: hello.groupID, rank: hello.acceptor)
            guard let entry = state.entries[key], entry.size == hello.size, entry.dialer == hello.dialer else {
                return nil
            }
            state.entries[key] = nil
            return entry
        }
    }

    /// Stops waiting for `key` and fails its promise with `error` (no-op when already claimed).
    func cancel(_ key: Key, error: any Error) {
        let entry = state.withLock { state in state.entries.removeValue(forKey: key) }
        entry?.promise.fail(error)
    }

    /// Fails every pending join and refuses new ones.
    func closeAll() {
        let entries = state.withLock { state in
            state.closed = true
            defer { state.entries = [:] }
            return Array(state.entries.values)
        }
        for entry in entries { entry.promise.fail(GroupError.listenerClosed) }
    }

    /// Why a link was refused (for the goodbye and the log).
    struct Refusal: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
