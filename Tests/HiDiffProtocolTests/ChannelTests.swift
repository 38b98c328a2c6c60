import HiDiffProtocol
import NIOCore
import NIOEmbedded
import XCTest

/// FrameDecoder / FrameEncoder in a real NIO pipeline, without sockets.
final class ChannelTests: XCTestCase {
    private func makeChannel(payloadLimit: Int? = nil) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(payloadLimit: payloadLimit)))
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
        return channel
    }

    func testOutboundMessagesBecomeFrames() throws {
        let channel = try makeChannel()
        for m in Fixtures.messages { try channel.writeOutbound(m) }
        var stream = ByteBuffer()
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) { stream.writeBuffer(&chunk) }
        var expected = ByteBuffer()
        for m in Fixtures.messages { FrameCodec.encode(m, into: &expected) }
        XCTAssertEqual(stream, expected)
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testInboundBytesInAwkwardChunksBecomeMessages() throws {
        let channel = try makeChannel()
        var all = ByteBuffer()
        for m in Fixtures.messages { FrameCodec.encode(m, into: &all) }
        var rng = SplitMix64(seed: 11)
        while all.readableBytes > 0 {
            let n = min(all.readableBytes, Int.random(in: 1...40, using: &rng))
            try channel.writeInbound(all.readSlice(length: n)!)
        }
        var received: [Message] = []
        while let m = try channel.readInbound(as: Message.self) { received.append(m) }
        XCTAssertEqual(received, Fixtures.messages)
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testGarbageStreamMakesTheDecoderThrow() throws {
        let channel = try makeChannel()
        try channel.writeInbound(Fixtures.frame(.drain))  // a good frame first is delivered
        XCTAssertEqual(try channel.readInbound(as: Message.self), .drain)
        XCTAssertThrowsError(try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))) { error in
            XCTAssertEqual(error as? ProtocolError, .badMagic)
        }
        XCTAssertNil(try channel.readInbound(as: Message.self))
        _ = try? channel.finish()
    }

    func testOversizedHeaderThrowsBeforeThePayloadArrives() throws {
        let channel = try makeChannel(payloadLimit: FrameDecoder.handshakeLimit)
        let header = Fixtures.rawFrame(type: MessageType.result.rawValue, payload: [], length: 100_000)
        XCTAssertThrowsError(try channel.writeInbound(ByteBuffer(bytes: header))) { error in
            XCTAssertEqual(error as? ProtocolError,
                           .frameTooLarge(type: .result, length: 100_000, max: FrameDecoder.handshakeLimit))
        }
        _ = try? channel.finish()
    }

    func testHalfAFrameAtEOFIsReportedAsTruncated() throws {
        let channel = try makeChannel()
        var frame = Fixtures.frame(.goodbye(reason: "see you"))
        try channel.writeInbound(frame.readSlice(length: frame.readableBytes - 2)!)
        XCTAssertNil(try channel.readInbound(as: Message.self))
        XCTAssertThrowsError(try channel.finish()) { error in
            XCTAssertEqual(error as? ProtocolError, .truncated(field: "frame"))
        }
    }

    func testEncoderRefusesAnInvalidMessage() throws {
        let channel = try makeChannel()
        XCTAssertThrowsError(try channel.writeOutbound(Message.proof(proof: [1, 2]))) { error in
            XCTAssertEqual(error as? ProtocolError, .invalidField(name: "proof.proof", reason: "must be 32 bytes, got 2"))
        }
        XCTAssertNil(try channel.readOutbound(as: ByteBuffer.self))
        _ = try? channel.finish()
    }
}
