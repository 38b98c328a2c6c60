import Foundation
import HiDiffProtocol

/// The inbound side of one established peer link: the channel handler deposits data messages on the event
/// loop, the compute thread takes them in order, blocking with a deadline. Never blocks the event loop.
///
/// Once closed (the connection ended, the peer said goodbye or broke the protocol) nothing more is deposited;
/// messages that arrived before the close are still taken, then `take` reports the close.
final class LinkMailbox: @unchecked Sendable {
    /// What `take` found.
    enum Taken {
        case data(PeerData)
        case closed(reason: String)
        case timedOut
    }

    private let condition = NSCondition()
    private var queue: [PeerData] = []
    private var head = 0
    private var closeReason: String?

    /// Appends a message from the peer (event loop).
    func deposit(_ data: PeerData) {
        condition.lock()
        defer { condition.unlock() }
        guard closeReason == nil else { return }
        queue.append(data)
        condition.signal()
    }

    /// Ends the mailbox; the first reason wins.
    func close(reason: String) {
        condition.lock()
        defer { condition.unlock() }
        if closeReason == nil { closeReason = reason }
        condition.broadcast()
    }

    /// Why the mailbox closed, or nil while open.
    var closedReason: String? {
        condition.lock()
        defer { condition.unlock() }
        return closeReason
    }

    /// The next message, waiting until `deadline` (compute thread).
    func take(deadline: Date) -> Taken {
        condition.lock()
        defer { condition.unlock() }
        while head == queue.count {
            if let closeReason { return .closed(reason: closeReason) }
            if !condition.wait(until: deadline) && head == queue.count && self.closeReason == nil {
                return .timedOut
            }
        }
        let data = queue[head]
        head += 1
        // Reclaim the consumed prefix now and then so the queue does not grow with the link's lifetime.
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 256 && head * 2 >= queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return .data(data)
    }
}
