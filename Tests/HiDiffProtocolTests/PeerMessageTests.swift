import HiDiffCore
import HiDiffProtocol
import NIOCore
import XCTest

/// The peer-link messages: field validation on decode and encode, and the two handshake state machines.
final class PeerMessageTests: XCTestCase {
    private func frame(_ type: MessageType, _ build: (inout PayloadBuilder) -> Void) -> [UInt8] {
        var p = PayloadBuilder()
        build(&p)
        return Fixtures.rawFrame(type: type.rawValue, payload: p.bytes)
    }

    /// A peerData payload: the header fields, then `shape`, offset and `data`.
    private func data(op: UInt8 = 4, kind: UInt8 = 3, origin: UInt32 = 1, axis: UInt8 = 0, chunk: UInt32 = 0,
                      chunks: UInt32 = 1, shape: [UInt32] = [2], offset: UInt64 = 0,
                      data: [UInt8] = Array(repeating: 0, count: 8)) -> [UInt8] {
        frame(.peerData) {
            $0.i64(9); $0.u32(1); $0.u8(op); $0.u8(kind); $0.u32(origin); $0.u8(axis); $0.u32(chunk); $0.u32(chunks)
            $0.u8(UInt8(shape.count)); for d in shape { $0.u32(d) }
            $0.i64(Int64(bitPattern: offset)); $0.blob(data)
        }
    }

    func testPeerDataFieldsAreValidatedOnDecode() {
        XCTAssertNotNil(try Fixtures.decodeOne(data()))
        let cases: [([UInt8], ProtocolError)] = [
            (data(op: 0), .invalidField(name: "peerData.op", reason: "unknown op 0")),
            (data(op: 6), .invalidField(name: "peerData.op", reason: "unknown op 6")),
            (data(kind: 0), .invalidField(name: "peerData.kind", reason: "unknown collective kind 0")),
            (data(kind: 200), .invalidField(name: "peerData.kind", reason: "unknown collective kind 200")),
            (data(origin: 5000), .invalidField(name: "peerData.origin", reason: "rank 5000 is outside 0..<1024")),
            (data(axis: 1), .invalidField(name: "peerData.axis", reason: "axis 1 of a rank-1 shape")),
            (data(chunk: 1), .invalidField(name: "peerData.chunk", reason: "index 1 of 1 chunks")),
            (data(chunks: 0), .invalidField(name: "peerData.chunks", reason: "0 chunks for 2 elements")),
            (data(chunks: 3), .invalidField(name: "peerData.chunks", reason: "3 chunks for 2 elements")),
            (data(data: [1, 2, 3]), .invalidField(name: "peerData.data", reason: "3 bytes are not whole 4-byte elements")),
            (data(data: Array(repeating: 0, count: 12)),
             .invalidField(name: "peerData.elementOffset", reason: "elements 0..<3 of 2")),
            (data(data: Array(repeating: 0, count: 4)),
             .invalidField(name: "peerData.data", reason: "the last chunk ends at element 1 of 2")),
            (data(chunk: 0, chunks: 2, data: []), .invalidField(name: "peerData.data", reason: "chunk 0 of 2 is empty")),
            (data(chunk: 1, chunks: 2, offset: 5, data: []),
             .invalidField(name: "peerData.elementOffset", reason: "elements 5..<5 of 2")),
            (data(shape: Array(repeating: 1, count: 9)), .invalidField(name: "peerData.shape", reason: "rank 9 exceeds 8")),
            (data(shape: [.max, .max, .max]),
             .invalidField(name: "peerData.shape", reason: "a dimension is out of range or the element count overflows")),
            (data(offset: .max), .invalidField(name: "peerData.elementOffset", reason: "18446744073709551615 is out of range")),
            // The all-reduce op carries float64: 8 bytes are one element of two.
            (data(op: 3), .invalidField(name: "peerData.data", reason: "the last chunk ends at element 1 of 2")),
        ]
        for (bytes, expected) in cases { XCTAssertEqual(Fixtures.decodeError(bytes), expected) }
        // A data length beyond the payload is truncation, found before anything is allocated.
        var p = data(data: [])
        p.removeLast(4)
        p += [0xff, 0xff, 0xff, 0x7f]
        for k in 0..<4 { p[8 + k] = UInt8(truncatingIfNeeded: (p.count - 12) >> (8 * k)) }
        XCTAssertEqual(Fixtures.decodeError(p), .truncated(field: "peerData.data"))
    }

    func testPeerHelloFieldsAreValidated() {
        func hello(size: UInt32, dialer: UInt32, acceptor: UInt32, nonce: Int = 32) -> [UInt8] {
            frame(.peerHello) { $0.i64(1); $0.u32(size); $0.u32(dialer); $0.u32(acceptor); $0.blob(Array(repeating: 1, count: nonce)) }
        }
        XCTAssertNotNil(try Fixtures.decodeOne(hello(size: 2, dialer: 0, acceptor: 1)))
        XCTAssertEqual(Fixtures.decodeError(hello(size: 1, dialer: 0, acceptor: 0)),
                       .invalidField(name: "peerHello.size", reason: "1 is outside 2...1024"))
        XCTAssertEqual(Fixtures.decodeError(hello(size: 2000, dialer: 0, acceptor: 1)),
                       .invalidField(name: "peerHello.size", reason: "2000 is outside 2...1024"))
        XCTAssertEqual(Fixtures.decodeError(hello(size: 3, dialer: 3, acceptor: 1)),
                       .invalidField(name: "peerHello.dialer", reason: "rank 3 is outside a group of 3"))
        XCTAssertEqual(Fixtures.decodeError(hello(size: 3, dialer: 1, acceptor: 1)),
                       .invalidField(name: "peerHello.acceptor", reason: "a rank cannot link to itself"))
        XCTAssertEqual(Fixtures.decodeError(hello(size: 3, dialer: 0, acceptor: 1, nonce: 31)),
                       .invalidField(name: "peerHello.nonce", reason: "must be 32 bytes, got 31"))
    }

    func testEncodeCheckedRefusesInvalidPeerMessages() {
        let bad: [Message] = [
            .peerHello(PeerHello(groupID: 1, size: 2, dialer: 0, acceptor: 1, nonce: [1])),
            .peerChallenge(nonce: Fixtures.nonceA, proof: []),
            .peerProof(proof: [1, 2]),
            .peerData(Fixtures.peerData(op: .allGather, kind: .halo, shape: [4], chunk: 0, chunks: 1, offset: 0, count: 3)),
            .peerData(PeerData(groupID: 1, sequence: 1, op: .rowsUp, kind: .halo, origin: -1, axis: 0, chunk: 0,
                               chunks: 1, shape: [0], elementOffset: 0, data: ByteBuffer())),
        ]
        for m in bad {
            var buffer = ByteBuffer()
            XCTAssertThrowsError(try FrameCodec.encodeChecked(m, into: &buffer), "\(m)")
            XCTAssertEqual(buffer.readableBytes, 0)
        }
    }

    func testAChunkAtTheMaximumFitsTheFrameMaximum() throws {
        func chunk(elements: Int) -> Message {
            .peerData(PeerData(groupID: .max, sequence: .max, op: .allGather, kind: .image, origin: 1023, axis: 7,
                               chunk: 0, chunks: 1, shape: Array(repeating: 1, count: 7) + [elements], elementOffset: 0,
                               data: ByteBuffer(repeating: 7, count: elements * 4)))
        }
        var buffer = ByteBuffer()
        let largest = chunk(elements: PeerData.maxChunkBytes / 4)
        XCTAssertNoThrow(try FrameCodec.encodeChecked(largest, into: &buffer))
        XCTAssertLessThanOrEqual(buffer.readableBytes - FrameCodec.headerSize, FrameCodec.maxPayload(for: .peerData))
        XCTAssertEqual(try FrameCodec.decode(from: &buffer), largest)
        XCTAssertThrowsError(try FrameCodec.encodeChecked(chunk(elements: PeerData.maxChunkBytes / 4 + 1), into: &buffer)) {
            XCTAssertEqual($0 as? ProtocolError, .invalidField(name: "peerData.data", reason: "16777220 bytes exceed the "
                                                               + "chunk maximum of 16777216"))
        }
    }

    // MARK: handshake

    private let token = Fixtures.token
    private func hello(group: UInt64 = 5, size: Int = 3, dialer: Int = 2, acceptor: Int = 0) -> PeerHello {
        PeerHello(groupID: group, size: size, dialer: dialer, acceptor: acceptor, nonce: Fixtures.nonceA)
    }

    /// Runs both machines against each other until quiet; returns the two sides' last actions.
    private func handshake(dialerToken: [UInt8], acceptorToken: [UInt8]?, hello h: PeerHello)
        -> (dialer: PeerDialerHandshake, acceptor: PeerAcceptorHandshake) {
        var dialer = PeerDialerHandshake(hello: h, token: dialerToken, now: 0)
        var acceptor = PeerAcceptorHandshake(nonce: Fixtures.nonceB, now: 0)
        var toAcceptor = dialer.start().compactMap { if case .send(let m) = $0 { return m } else { return nil } }
        var rounds = 0
        while !toAcceptor.isEmpty, rounds < 10 {
            rounds += 1
            var toDialer: [Message] = []
            for m in toAcceptor {
                var actions = acceptor.received(m, now: 1)
                while let a = actions.first {
                    actions.removeFirst()
                    switch a {
                    case .send(let reply): toDialer.append(reply)
                    case .lookUp: actions += acceptorToken.map { acceptor.challenge(token: $0) } ?? acceptor.refuse(reason: "unknown group")
                    case .authenticated: actions += acceptor.welcome()
                    case .close: break
                    }
                }
            }
            toAcceptor = []
            for m in toDialer {
                for case .send(let reply) in dialer.received(m, now: 1) { toAcceptor.append(reply) }
            }
        }
        return (dialer, acceptor)
    }

    func testHandshakeWithTheSameTokenEstablishesBothSides() {
        let (dialer, acceptor) = handshake(dialerToken: token, acceptorToken: token, hello: hello())
        XCTAssertTrue(dialer.isEstablished)
        XCTAssertTrue(acceptor.isEstablished)
        XCTAssertEqual(acceptor.hello, hello())
    }

    func testDialerRefusesAnAcceptorWithAnotherTokenWithoutProvingItself() {
        let (dialer, acceptor) = handshake(dialerToken: token, acceptorToken: Array("another token, 16+ bytes".utf8),
                                           hello: hello())
        XCTAssertEqual(dialer.failure, .authenticationFailed)
        XCTAssertFalse(acceptor.isEstablished)
    }

    func testAcceptorRefusesAProofForAnotherGroupOrRank() {
        // A proof made for group 5 rank 2 -> 0 is replayed in a link that claims another group or dialer.
        let acceptorNonce = Fixtures.nonceB
        let replayed = hello().proof(token: token, role: PeerHello.dialerRole, acceptorNonce: acceptorNonce)
        for other in [hello(group: 6), hello(dialer: 1), hello(acceptor: 1), hello(size: 4)] {
            var acceptor = PeerAcceptorHandshake(nonce: acceptorNonce, now: 0)
            XCTAssertEqual(acceptor.received(.peerHello(other), now: 0), [.lookUp(other)])
            _ = acceptor.challenge(token: token)
            let actions = acceptor.received(.peerProof(proof: replayed), now: 0)
            XCTAssertEqual(acceptor.failure, .authenticationFailed, "\(other.binding)")
            XCTAssertEqual(actions.last, .close(reason: ProtocolError.authenticationFailed.description))
        }
        // The acceptor's own proof reflected back as the dialer's does not verify either (distinct roles).
        var acceptor = PeerAcceptorHandshake(nonce: acceptorNonce, now: 0)
        _ = acceptor.received(.peerHello(hello()), now: 0)
        guard case .send(.peerChallenge(_, let acceptorProof))? = acceptor.challenge(token: token).first else {
            return XCTFail("no challenge")
        }
        _ = acceptor.received(.peerProof(proof: acceptorProof), now: 0)
        XCTAssertEqual(acceptor.failure, .authenticationFailed)
    }

    func testRefusalIsReportedToTheDialer() {
        let (dialer, _) = handshake(dialerToken: token, acceptorToken: nil, hello: hello())
        XCTAssertTrue(dialer.isClosed)
        XCTAssertEqual(dialer.refusal, "unknown group")
        XCTAssertNil(dialer.failure)
    }

    func testHandshakeTimeoutsAndOutOfOrderMessages() {
        var dialer = PeerDialerHandshake(hello: hello(), token: token, now: 10, handshakeTimeout: 2)
        _ = dialer.start()
        XCTAssertEqual(dialer.tick(now: 11.9), [])
        XCTAssertEqual(dialer.tick(now: 12).count, 2)
        XCTAssertEqual(dialer.failure?.kind, .timeout(what: "peer handshake not completed within 2.0 s (awaiting peer challenge)"))

        var acceptor = PeerAcceptorHandshake(nonce: Fixtures.nonceB, now: 0, handshakeTimeout: 1)
        XCTAssertEqual(acceptor.tick(now: 1).count, 2)
        XCTAssertTrue(acceptor.isClosed)

        var early = PeerAcceptorHandshake(nonce: Fixtures.nonceB, now: 0)
        _ = early.received(.peerProof(proof: Fixtures.nonceA), now: 0)
        XCTAssertEqual(early.failure, .unexpected(message: "peerProof", state: "awaiting peer hello"))

        var data = PeerDialerHandshake(hello: hello(), token: token, now: 0)
        _ = data.start()
        _ = data.received(.peerWelcome, now: 0)
        XCTAssertEqual(data.failure, .unexpected(message: "peerWelcome", state: "awaiting peer challenge"))
    }
}
