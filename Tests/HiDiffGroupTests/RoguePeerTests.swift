import Foundation
import HiDiffCore
import HiDiffGroup
import HiDiffProtocol
import HiDiffTestSupport
import NIOCore
import XCTest

/// A hand-written peer that completes the handshake with the right token, then misbehaves: the real member
/// throws a clear typed error quickly, closes its links, and nothing crashes.
final class RoguePeerTests: XCTestCase {
    private static let groupID: UInt64 = 0xB0B

    /// The real rank 0 of a two-member group runs `body`; a rogue rank 1 links to it by hand (accepts its dial,
    /// dials it back) and then plays `rogue` with the two sockets: `previous` is rank 0's previous link (where
    /// ring data arrives) and `next` its next link (where rows from below arrive). Returns rank 0's error.
    private func scenario(_ body: @escaping @Sendable (TCPCollective) throws -> Void,
                          rogue: (_ previous: RawSocket, _ next: RawSocket) throws -> Void) throws -> CollectiveError? {
        let listener = try PeerListener.bindBlocking(host: "127.0.0.1", port: 0, handshakeTimeout: 2, logger: testLogger)
        defer { listener.close() }
        let rogueListener = try RawListener()
        let roster = try GroupRoster(groupID: Self.groupID,
                                     members: [PeerAddress(host: "127.0.0.1", port: listener.port),
                                               PeerAddress(host: "127.0.0.1", port: rogueListener.port)], rank: 0)
        let real = LockedBox<Result<Void, any Error>?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            real.withValue { r in
                r = Result {
                    let c = try TCPCollective.joinBlocking(roster: roster, listener: listener, token: groupToken,
                                                           timeout: 5, configuration: .init(callTimeout: 5), logger: testLogger)
                    defer { c.close() }
                    try body(c)
                }
            }
            finished.signal()
        }
        thread.start()
        // Rank 0 dials its next (the rogue) after registering, so the rogue may dial back once it was dialed.
        let (next, hello) = try rogueListener.acceptPeer(token: groupToken)
        XCTAssertEqual(hello.binding, "group \(Self.groupID) of 2: rank 0 -> rank 1")
        let previous = try RawSocket.connect(port: listener.port)
        XCTAssertEqual(try previous.dial(PeerHello(groupID: Self.groupID, size: 2, dialer: 1, acceptor: 0,
                                                   nonce: TokenAuth.makeNonce()), token: groupToken), .peerWelcome)
        let start = Date()
        try rogue(previous, next)
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success, "the real member hangs")
        XCTAssertLessThan(Date().timeIntervalSince(start), 4, "the error must come from the check, not a timeout")
        // The member closes both links after its error, saying why on the ones still open.
        var goodbyes = 0
        for socket in [previous, next] {
            let (closed, messages) = socket.drainUntilClosed(timeout: 5)
            XCTAssertTrue(closed, "link left open")
            goodbyes += messages.filter { if case .goodbye = $0 { return true } else { return false } }.count
        }
        XCTAssertGreaterThan(goodbyes, 0)
        return collectiveError(real.current)
    }

    private func data(_ sequence: UInt32, _ op: PeerOp, _ kind: CollectiveKind, origin: Int = 1, axis: Int = 0,
                      shape: [Int], chunk: Int = 0, chunks: Int = 1, offset: Int = 0, elements: Int? = nil) -> Message {
        let n = elements ?? shape.reduce(1, *)
        return .peerData(PeerData(groupID: Self.groupID, sequence: sequence, op: op, kind: kind, origin: origin,
                                  axis: axis, chunk: chunk, chunks: chunks, shape: shape, elementOffset: offset,
                                  data: ByteBuffer(repeating: 0, count: n * op.elementSize)))
    }

    func testAWrongSequenceNumberIsAMismatch() throws {
        let error = try scenario({ c in _ = try c.allReduceSum([1, 2], kind: .norm) }) { previous, _ in
            previous.send(data(2, .allReduce, .norm, shape: [2]))
        }
        XCTAssertEqual(error, .mismatch(rank: 1, expected: "call 1 allReduce norm from rank 1 (axis 0, shape [2])",
                                        got: "call 2 allReduce norm from rank 1 (axis 0, shape [2])"))
    }

    func testAWrongRowCountIsAMismatch() throws {
        // Rank 0 (the top stripe) takes one row from below on its next link; the rogue sends two.
        let error = try scenario({ c in _ = try c.haloRows(Tensor(zeros: [1, 2, 4, 3]), above: 1, below: 1) }) { _, next in
            next.send(data(1, .rowsUp, .halo, axis: 2, shape: [1, 2, 2, 3]))
        }
        XCTAssertEqual(error, .mismatch(rank: 1, expected: "call 1 rowsUp halo from rank 1 (axis 2, shape [1, 2, 1, 3])",
                                        got: "call 1 rowsUp halo from rank 1 (axis 2, shape [1, 2, 2, 3])"))
    }

    func testAWrongSizedRowFetchIsAMismatch() throws {
        // Rank 0 needs rank 1's two rows; with two members they come down rank 1's next link (rank 0's previous).
        let plan = try RowFetchPlan(stripeRows: [2, 2], needs: [[0..<4], []])
        let error = try scenario({ c in
            _ = try c.fetchRows(Tensor(zeros: [1, 2, 3]), axis: 1, plan: plan, kind: .attention)
        }) { previous, _ in
            previous.send(data(1, .fetchRows, .attention, axis: 1, shape: [1, 3, 3]))
        }
        XCTAssertEqual(error, .mismatch(rank: 1, expected: "call 1 fetchRows attention from rank 1 (axis 1, shape [1, 2, 3])",
                                        got: "call 1 fetchRows attention from rank 1 (axis 1, shape [1, 3, 3])"))
    }

    func testAnotherOpKindOrOriginIsAMismatch() throws {
        let wrong: [Message] = [
            data(1, .allGather, .norm, shape: [2]),
            data(1, .allReduce, .halo, shape: [2]),
            data(1, .allReduce, .norm, origin: 0, shape: [2]),
        ]
        for message in wrong {
            let error = try scenario({ c in _ = try c.allReduceSum([1, 2], kind: .norm) }) { previous, _ in
                previous.send(message)
            }
            guard case .mismatch(1, let expected, _)? = error else { return XCTFail("\(String(describing: error))") }
            XCTAssertEqual(expected, "call 1 allReduce norm from rank 1 (axis 0, shape [2])")
        }
    }

    func testOutOfOrderChunksAreAMismatch() throws {
        let error = try scenario({ c in _ = try c.allGather(Tensor(zeros: [1, 4]), axis: 1, kind: .attention) }) { p, _ in
            p.send(data(1, .allGather, .attention, axis: 1, shape: [1, 4], chunk: 0, chunks: 2, elements: 2))
            p.send(data(1, .allGather, .attention, axis: 1, shape: [1, 4], chunk: 0, chunks: 2, elements: 2))
        }
        guard case .mismatch(1, let expected, let got)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(expected.hasSuffix("chunk 1 of 2 at element 2"), expected)
        XCTAssertTrue(got.hasSuffix("chunk 0 of 2 at element 0"), got)
    }

    func testAHugeAnnouncedBlockIsRefusedBeforeAllocating() throws {
        let error = try scenario({ c in _ = try c.allGather(Tensor(zeros: [1, 4]), axis: 1, kind: .attention) }) { p, _ in
            // 2^32 - 1 floats (16 GiB) announced, one real chunk sent.
            p.send(data(1, .allGather, .attention, axis: 1, shape: [1, Int(UInt32.max)], chunk: 0, chunks: 1 << 20,
                        elements: 4))
        }
        guard case .mismatch(1, let expected, _)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(expected.contains("at most"), expected)
    }

    func testGarbageBytesLoseThePeerWithTheReason() throws {
        let garbage: [[UInt8]] = [
            Array("GET / HTTP/1.1\r\n\r\n".utf8),
            (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 131) },
            // A valid header announcing a payload over the data frame's maximum.
            Array("HDF".utf8) + [1, MessageType.peerData.rawValue, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f],
            // A data frame cut short.
            Array("HDF".utf8) + [1, MessageType.peerData.rawValue, 0, 0, 0, 1, 0, 0, 0, 0],
            // A well-formed data frame with an op byte the protocol does not know (header 12 + group id 8 + call 4).
            {
                var frame = FrameCodec.frame(data(1, .allReduce, .norm, shape: [1]))
                frame.setInteger(9 as UInt8, at: 24)
                return Array(frame.readableBytesView)
            }(),
        ]
        for bytes in garbage {
            let error = try scenario({ c in _ = try c.allReduceSum([1], kind: .norm) }) { previous, _ in
                previous.send(bytes: bytes)
            }
            guard case .peerLost(1, let reason)? = error else { return XCTFail("\(String(describing: error))") }
            XCTAssertTrue(reason.contains("rank 1 broke the protocol"), reason)
        }
    }

    func testAnUnexpectedMessageOnAnEstablishedLinkLosesThePeer() throws {
        let error = try scenario({ c in _ = try c.allReduceSum([1], kind: .norm) }) { previous, _ in
            previous.send(.heartbeat(state: nil))
        }
        XCTAssertEqual(error, .peerLost(rank: 1, reason: "rank 1 sent an unexpected heartbeat message on an established link"))
    }

    func testAGoodbyeMidCallLosesThePeerWithItsReason() throws {
        let error = try scenario({ c in _ = try c.allReduceSum([1], kind: .norm) }) { previous, _ in
            previous.send(.goodbye(reason: "out of memory"))
        }
        XCTAssertEqual(error, .peerLost(rank: 1, reason: "rank 1 left the group: out of memory"))
    }
}
