import HiDiffProtocol
import Logging
import NIOCore

extension LinkMailbox {
    /// Why an established link must close after a message.
    struct Ending {
        var reason: String
        /// The peer broke the protocol: tell it why before closing (a goodbye needs no answer).
        var violation: Bool
    }

    /// What an established link's handler does with a message from rank `peer`: data goes into the mailbox; a
    /// goodbye or anything else closes the mailbox and says why the connection must close.
    func deliver(_ message: Message, from peer: Int) -> Ending? {
        switch message {
        case .peerData(let data):
            deposit(data)
            return nil
        case .goodbye(let reason):
            let why = "rank \(peer) left the group: \(reason)"
            close(reason: why)
            return Ending(reason: why, violation: false)
        default:
            let why = "rank \(peer) sent an unexpected \(message.type) message on an established link"
            close(reason: why)
            return Ending(reason: why, violation: true)
        }
    }

    /// The connection ended (or failed with `error`) while established.
    func linkEnded(peer: Int, error: (any Error)? = nil) {
        switch error {
        case nil:
            close(reason: "the connection to rank \(peer) closed")
        case let e as ProtocolError:
            close(reason: "rank \(peer) broke the protocol: \(e)")
        case let e?:
            close(reason: "the connection to rank \(peer) failed: \(e)")
        }
    }
}

extension ChannelHandlerContext {
    /// Closes an established link after `ending`, telling a peer that broke the protocol why.
    func endLink(_ ending: LinkMailbox.Ending, logger: Logger) {
        if ending.violation {
            logger.warning("peer link: \(ending.reason)")
            writeAndFlush(NIOAny(Message.goodbye(reason: String(ending.reason.prefix(1000)))), promise: nil)
        } else {
            logger.debug("peer link: \(ending.reason)")
        }
        close(promise: nil)
    }
}

extension LinkMailbox {
    /// An error on an established link: ends the mailbox and logs it, at debug when the group had already
    /// ended the link (closed it, or the peer said goodbye), since a reset then is only the echo of that.
    func linkFailed(peer: Int, error: any Error, link: String, logger: Logger) {
        let ended = closedReason != nil
        linkEnded(peer: peer, error: error)
        if ended {
            logger.debug("\(link) after it ended: \(error)")
        } else {
            logger.warning("\(link) failed: \(error)")
        }
    }
}
