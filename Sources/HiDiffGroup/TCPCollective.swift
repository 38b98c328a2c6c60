import Foundation
import HiDiffCore
import HiDiffProtocol
import Logging
import NIOCore
import Synchronization

/// The engine's `Collective` over TCP: K members (ranks), each in its own process (or thread), linked in a ring
/// of authenticated peer links. Form one with `join` (or `joinBlocking`) on every member.
///
/// Each member dials rank + 1 (its `next` link) and accepts rank - 1 (its `previous` link), both mod K; with
/// K = 2 the two members have two connections, with K = 1 there are none. Halo rows for rank - 1 go on the
/// previous link and for rank + 1 on the next one (never across the image's border: rank 0 gets zeros above,
/// the last rank zeros below). All-gather and all-reduce pass every member's block once around the ring
/// (K - 1 steps, forwarding what came from the previous member to the next), then concatenate or sum in rank
/// order, so every result has the same bits as `LocalGroup`'s.
///
/// Calls are numbered; every message received is checked against the call's number, op, kind, origin rank,
/// axis and shape (`CollectiveError.mismatch` naming both). A closed link throws `.peerLost`, silence longer
/// than `Configuration.callTimeout` throws `.timeout`. After any error the collective is broken: it closes its
/// links (so the other members fail fast with `.peerLost` instead of waiting out a timeout) and every later call
/// throws `.broken`. `close()` ends a group normally.
///
/// Used by one compute thread: calls block that thread (never an event loop) while the links' IO runs on NIO
/// event loops, which deposit inbound data in per-link mailboxes.
public final class TCPCollective: Collective, @unchecked Sendable {
    /// Timeouts and sizes of the data path.
    public struct Configuration: Sendable {
        /// Seconds a call waits for the next message from a peer before throwing `.timeout`. Generous by default:
        /// a slow member may compute for minutes between two calls.
        public var callTimeout: Double
        /// Element bytes per data message; larger blocks are split (at most `PeerData.maxChunkBytes`).
        public var chunkBytes: Int
        /// The largest block a peer may announce for one call; a larger one is a `.mismatch`.
        public var maxBlockBytes: Int

        /// Memberwise; `chunkBytes` is clamped to 8...`PeerData.maxChunkBytes`.
        public init(callTimeout: Double = 300, chunkBytes: Int = PeerData.maxChunkBytes,
                    maxBlockBytes: Int = 4 << 30) {
            self.callTimeout = callTimeout
            self.chunkBytes = chunkBytes
            self.maxBlockBytes = maxBlockBytes
        }
    }

    /// The group and this member's rank.
    public let roster: GroupRoster
    /// Timeouts and sizes in use.
    public let configuration: Configuration
    /// This member's rank (its stripe, 0 = top).
    public var rank: Int { roster.rank }
    /// Number of members.
    public var size: Int { roster.size }

    /// The link to rank + 1 (mod size); nil when alone.
    let next: PeerLink?
    /// The link from rank - 1 (mod size); nil when alone.
    let previous: PeerLink?
    let logger: Logger
    /// The number of the current call (compute thread only).
    var sequence: UInt32 = 0
    private let status = Mutex<(failure: String?, traffic: CollectiveTraffic)>((nil, CollectiveTraffic()))

    init(roster: GroupRoster, configuration: Configuration, next: PeerLink?, previous: PeerLink?, logger: Logger) {
        self.roster = roster
        var configuration = configuration
        configuration.chunkBytes = min(max(configuration.chunkBytes, 8), PeerData.maxChunkBytes)
        self.configuration = configuration
        self.next = next
        self.previous = previous
        self.logger = logger
    }

    deinit { close() }

    /// Bytes and messages sent and received so far, by kind.
    public var traffic: CollectiveTraffic { status.withLock { $0.traffic } }

    /// Why the collective is unusable (an earlier failure, or `close()`), or nil.
    public var failureReason: String? { status.withLock { $0.failure } }

    /// Ends this member's part of the group: says goodbye on both links and closes them once what was already
    /// sent is written. Later calls throw `.broken`. Idempotent.
    public func close() {
        guard markFailed("rank \(rank) closed the group") else { return }
        for link in links {
            link.close(reason: "rank \(rank) closed the group", grace: configuration.callTimeout)
        }
    }

    /// `close()`, then blocks (never call it on an event loop) until every link has written what was queued on
    /// it and closed, for at most `timeout` seconds: for a process that exits right after its group, whose
    /// queued writes (blocks still being passed on, the goodbye) would otherwise die with it and leave its
    /// peers waiting for data that never comes.
    public func closeAndWait(timeout: Double = 10) {
        close()
        let closed = DispatchSemaphore(value: 0)
        for link in links { link.channel.closeFuture.whenComplete { _ in closed.signal() } }
        let deadline = DispatchTime.now() + timeout
        for _ in links where closed.wait(timeout: deadline) == .timedOut { break }
    }

    private var links: [PeerLink] { [next, previous].compactMap { $0 } }

    /// Records the first failure; true when this call set it.
    private func markFailed(_ reason: String) -> Bool {
        status.withLock { status in
            guard status.failure == nil else { return false }
            status.failure = reason
            return true
        }
    }

    func recordSent(_ kind: CollectiveKind, bytes: Int, messages: Int) {
        status.withLock { $0.traffic.sent(kind, bytes: bytes, messages: messages) }
    }

    func recordReceived(_ kind: CollectiveKind, bytes: Int, messages: Int) {
        status.withLock { $0.traffic.received(kind, bytes: bytes, messages: messages) }
    }

    // MARK: calls

    /// Numbers a new call, or throws `.broken` after an earlier failure.
    func begin() throws -> UInt32 {
        if let failure = failureReason { throw CollectiveError.broken(reason: failure) }
        sequence &+= 1
        return sequence
    }

    /// Breaks the group after `error`: closes every link at once so the peers stop waiting.
    func fail(_ error: any Error) -> any Error {
        if markFailed("\(error)") {
            logger.warning("group \(roster.groupID) rank \(rank): \(error)", metadata: ["group": "\(roster.groupID)", "rank": "\(rank)"])
            for link in links { link.close(reason: "rank \(rank) failed: \(error)") }
        }
        return error
    }

    public func exchangeRows(_ x: Tensor, sendUp: Int, sendDown: Int, receiveAbove: Int,
                             receiveBelow: Int) throws -> (above: Tensor, below: Tensor) {
        let call = try begin()
        do {
            guard x.rank == 4 else {
                throw CollectiveError.invalidStripe(reason: "row exchange needs an NCHW stripe, got shape \(x.shape)")
            }
            let (n, c, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
            let up = rank > 0 ? sendUp : 0, down = rank + 1 < size ? sendDown : 0
            guard min(up, down, receiveAbove, receiveBelow) >= 0 else {
                throw CollectiveError.invalidStripe(reason: "negative row count in a row exchange")
            }
            guard up <= h, down <= h else {
                throw CollectiveError.invalidStripe(
                    reason: "rank \(rank) has \(h) rows; a neighbour needs \(max(up, down))")
            }
            if let previous, rank > 0 {
                try send(WireBlock(x.slice(axis: 2, 0..<up)), origin: rank, op: .rowsUp, kind: .halo, axis: 2,
                         call: call, on: previous)
            }
            if let next, rank + 1 < size {
                try send(WireBlock(x.slice(axis: 2, (h - down)..<h)), origin: rank, op: .rowsDown, kind: .halo,
                         axis: 2, call: call, on: next)
            }
            var above = Tensor(zeros: [n, c, receiveAbove, w]), below = Tensor(zeros: [n, c, receiveBelow, w])
            if let previous, rank > 0 {
                above = try receive(on: previous, Expectation(call: call, op: .rowsDown, kind: .halo, origin: rank - 1,
                                                              axis: 2, shape: [n, c, receiveAbove, w])).tensor
            }
            if let next, rank + 1 < size {
                below = try receive(on: next, Expectation(call: call, op: .rowsUp, kind: .halo, origin: rank + 1,
                                                          axis: 2, shape: [n, c, receiveBelow, w])).tensor
            }
            return (above, below)
        } catch {
            throw fail(error)
        }
    }

    public func allReduceSum(_ values: [Double], kind: CollectiveKind) throws -> [Double] {
        let call = try begin()
        do {
            let parts = try ringGather(WireBlock(values), op: .allReduce, kind: kind, axis: 0, call: call,
                                       shape: [values.count])
            // From zero in rank order, as LocalGroup sums: the same bits on every member.
            var sum = [Double](repeating: 0, count: values.count)
            for part in parts {
                let p = part.doubles
                for i in 0..<sum.count { sum[i] += p[i] }
            }
            return sum
        } catch {
            throw fail(error)
        }
    }

    public func allGather(_ x: Tensor, axis: Int, kind: CollectiveKind) throws -> Tensor {
        let call = try begin()
        do {
            guard axis >= 0, axis < x.rank, x.rank <= WireTensor.maxRank else {
                throw CollectiveError.invalidStripe(
                    reason: "cannot gather axis \(axis) of a tensor of shape \(x.shape)")
            }
            if size == 1 { return Tensor.concat([x], axis: axis) }
            var shape: [Int?] = x.shape
            shape[axis] = nil
            let parts = try ringGather(WireBlock(x), op: .allGather, kind: kind, axis: axis, call: call, shape: shape)
            return Tensor.concat(parts.map(\.tensor), axis: axis)
        } catch {
            throw fail(error)
        }
    }
}
