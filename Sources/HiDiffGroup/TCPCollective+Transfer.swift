import Foundation
import HiDiffCore
import HiDiffProtocol
import NIOCore

extension TCPCollective {
    /// Every member's block in rank order: this member's goes to `next`, and K - 1 times the block that comes
    /// from `previous` is kept and (but for the last) passed on to `next`, chunk by chunk as it arrives.
    func ringGather(_ mine: WireBlock, op: PeerOp, kind: CollectiveKind, axis: Int, call: UInt32,
                    shape: [Int?]) throws -> [WireBlock] {
        guard let next, let previous, size > 1 else { return [mine] }
        var blocks = [WireBlock?](repeating: nil, count: size)
        blocks[rank] = mine
        try send(mine, origin: rank, op: op, kind: kind, axis: axis, call: call, on: next)
        for step in 1..<size {
            let origin = (rank - step + size) % size
            let expected = Expectation(call: call, op: op, kind: kind, origin: origin, axis: axis, shape: shape)
            blocks[origin] = try receive(on: previous, expected, forwardingTo: step < size - 1 ? next : nil)
        }
        return blocks.map { $0! }
    }

    /// Writes `block` to `link` as `PeerData` chunks of at most `configuration.chunkBytes` (never blocks).
    func send(_ block: WireBlock, origin: Int, op: PeerOp, kind: CollectiveKind, axis: Int, call: UInt32,
              on link: PeerLink) throws {
        if let reason = link.mailbox.closedReason {
            throw CollectiveError.peerLost(rank: link.peerRank, reason: reason)
        }
        let size = op.elementSize
        let chunkBytes = max(size, configuration.chunkBytes / size * size)
        let total = block.bytes.readableBytes
        let chunks = max(1, (total + chunkBytes - 1) / chunkBytes)
        for chunk in 0..<chunks {
            let start = chunk * chunkBytes
            let length = min(chunkBytes, total - start)
            let data = block.bytes.getSlice(at: block.bytes.readerIndex + start, length: length)!
            let message = PeerData(groupID: roster.groupID, sequence: call, op: op, kind: kind, origin: origin,
                                   axis: axis, chunk: chunk, chunks: chunks, shape: block.shape,
                                   elementOffset: start / size, data: data)
            // The encoder would refuse it later, as a lost link; say here what cannot travel.
            if chunk == 0, let error = message.validationError {
                throw CollectiveError.invalidStripe(reason: "cannot send \(Expectation.describe(message)): \(error)")
            }
            link.send(.peerData(message))
        }
        recordSent(kind, bytes: total, messages: chunks)
    }

    /// Takes one whole block from `link`: every chunk checked against `expected` and against the chunks before
    /// it, each passed on to `forward` (if any) as soon as it is checked.
    func receive(on link: PeerLink, _ expected: Expectation,
                 forwardingTo forward: PeerLink? = nil) throws -> WireBlock {
        let first = try take(from: link, expected)
        try expected.check(first, groupID: roster.groupID, from: link.peerRank)
        guard first.chunk == 0 else {
            throw CollectiveError.mismatch(rank: link.peerRank, expected: "\(expected), chunk 0",
                                           got: "\(Expectation.describe(first)), chunk \(first.chunk)")
        }
        let elementSize = first.op.elementSize
        let (totalBytes, overflow) = first.totalElements.multipliedReportingOverflow(by: elementSize)
        guard !overflow, totalBytes <= configuration.maxBlockBytes else {
            throw CollectiveError.mismatch(rank: link.peerRank,
                                           expected: "at most \(configuration.maxBlockBytes) bytes",
                                           got: "\(Expectation.describe(first)): \(first.totalElements) elements")
        }
        // Reserve what the announcement claims only up to a bound: the bytes must actually arrive to grow it.
        var bytes = ByteBufferAllocator().buffer(capacity: min(totalBytes, 64 << 20))
        var message = first
        for index in 1...first.chunks {
            var data = message.data
            bytes.writeBuffer(&data)
            forward?.send(.peerData(message))
            if index == first.chunks { break }
            message = try take(from: link, expected)
            let wanted = bytes.readableBytes / elementSize
            let fits = message.groupID == first.groupID && message.sequence == first.sequence && message.op == first.op
                && message.kind == first.kind && message.origin == first.origin && message.axis == first.axis
                && message.shape == first.shape && message.chunks == first.chunks && message.chunk == index
                && message.elementOffset == wanted
            guard fits else {
                throw CollectiveError.mismatch(
                    rank: link.peerRank,
                    expected: "\(Expectation.describe(first)), chunk \(index) of \(first.chunks) at element \(wanted)",
                    got: "\(Expectation.describe(message)), chunk \(message.chunk) of \(message.chunks) at element "
                        + "\(message.elementOffset)")
            }
        }
        recordReceived(expected.kind, bytes: totalBytes, messages: first.chunks)
        if forward != nil { recordSent(expected.kind, bytes: totalBytes, messages: first.chunks) }
        return WireBlock(shape: first.shape, bytes: bytes)
    }

    /// The next message from `link`, waiting at most `configuration.callTimeout` seconds.
    private func take(from link: PeerLink, _ expected: Expectation) throws -> PeerData {
        switch link.mailbox.take(deadline: Date(timeIntervalSinceNow: configuration.callTimeout)) {
        case .data(let data):
            return data
        case .closed(let reason):
            throw CollectiveError.peerLost(rank: link.peerRank, reason: reason)
        case .timedOut:
            throw CollectiveError.timeout(rank: link.peerRank, seconds: configuration.callTimeout,
                                          waitingFor: expected.description)
        }
    }
}
