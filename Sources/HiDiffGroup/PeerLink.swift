import HiDiffProtocol
import NIOCore

/// One established, authenticated connection to another member of the group: data goes out through the
/// channel, data comes in through the mailbox its handler fills.
final class PeerLink: Sendable {
    /// The member at the other end.
    let peerRank: Int
    let channel: any Channel
    let mailbox: LinkMailbox

    init(peerRank: Int, channel: any Channel, mailbox: LinkMailbox) {
        self.peerRank = peerRank
        self.channel = channel
        self.mailbox = mailbox
    }

    /// Queues `message` on the event loop (never blocks). A failed write closes the link, so the next wait on
    /// it reports the loss instead of timing out.
    func send(_ message: Message) {
        let (channel, mailbox, peer) = (self.channel, self.mailbox, peerRank)
        channel.writeAndFlush(message).whenFailure { error in
            mailbox.close(reason: "could not send to rank \(peer): \(error)")
            channel.close(promise: nil)
        }
    }

    /// Says goodbye with `reason` (so the peer learns why) and closes the connection once everything queued
    /// before has been written, or after `grace` seconds for a peer that stopped reading; later takes report
    /// `reason`.
    func close(reason: String, grace: Double = 1) {
        mailbox.close(reason: reason)
        let channel = self.channel
        channel.writeAndFlush(Message.goodbye(reason: String(reason.prefix(1000)))).whenComplete { _ in
            channel.close(promise: nil)
        }
        channel.eventLoop.scheduleTask(in: MonotonicClock.amount(grace)) { channel.close(promise: nil) }
    }
}
