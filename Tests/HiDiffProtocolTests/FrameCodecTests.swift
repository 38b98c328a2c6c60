import HiDiffProtocol
import NIOCore
import XCTest

final class FrameCodecTests: XCTestCase {
    func testEveryMessageCaseIsCoveredByTheFixtures() {
        let covered = Set(Fixtures.messages.map(\.type))
        XCTAssertEqual(covered, Set(MessageType.allCases))
    }

    func testRoundTripEveryMessage() throws {
        for m in Fixtures.messages {
            let bytes = Fixtures.bytes(m)
            XCTAssertEqual(Array(bytes[0..<3]), Array("HDF".utf8))
            XCTAssertEqual(bytes[3], FrameCodec.protocolVersion)
            XCTAssertEqual(bytes[4], m.type.rawValue)
            XCTAssertEqual(Array(bytes[5..<8]), [0, 0, 0])
            let length = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            XCTAssertEqual(length, bytes.count - FrameCodec.headerSize, "\(m.type)")
            let decoded = try Fixtures.decodeOne(bytes)
            XCTAssertEqual(decoded, m)
            // Canonical: the decoded message encodes to the very same bytes.
            XCTAssertEqual(decoded.map(Fixtures.bytes), bytes, "\(m.type)")
            var checked = ByteBuffer()
            XCTAssertNoThrow(try FrameCodec.encodeChecked(m, into: &checked), "\(m)")
            XCTAssertEqual(checked.readableBytesView.elementsEqual(bytes), true)
        }
    }

    func testKnownByteLayoutOfACancelFrame() {
        XCTAssertEqual(Fixtures.bytes(.cancel(jobID: 0x0102, attempt: 3)),
                       [0x48, 0x44, 0x46, FrameCodec.protocolVersion, 12, 0, 0, 0, 12, 0, 0, 0,
                        0x02, 0x01, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0])
    }

    func testTensorIsLittleEndianWithShape() {
        let bytes = Fixtures.bytes(.result(jobID: 0, attempt: 0, png: [], latents: WireTensor(shape: [2], data: [1, -2]),
                                           metadataJSON: ""))
        // header 12, jobID 8, attempt 4, png length 4: the tensor starts at 28.
        XCTAssertEqual(Array(bytes[28..<45]), [1, 2, 0, 0, 0, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
                                               0, 0, 0, 0])
    }

    func testLargeTensorAndBlobRoundTrip() throws {
        let tensor = Fixtures.tensor([1, 4, 256, 256], seed: 7)  // 1 MiB of floats
        let png = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let m = Message.result(jobID: 77, attempt: 2, png: png, latents: tensor, metadataJSON: "{}")
        let decoded = try Fixtures.decodeOne(Fixtures.bytes(m))
        XCTAssertEqual(decoded, m)
        let checkpoint = Message.checkpoint(jobID: 1, attempt: 1, step: 5, state: png)
        XCTAssertEqual(try Fixtures.decodeOne(Fixtures.bytes(checkpoint)), checkpoint)
    }

    func testSeveralFramesInOneBufferDecodeInOrder() throws {
        var buffer = ByteBuffer()
        for m in Fixtures.messages { FrameCodec.encode(m, into: &buffer) }
        var out: [Message] = []
        while let m = try FrameCodec.decode(from: &buffer) { out.append(m) }
        XCTAssertEqual(out, Fixtures.messages)
        XCTAssertEqual(buffer.readableBytes, 0)
    }

    func testByteByByteDecodingEqualsWholeBufferDecoding() throws {
        var whole = ByteBuffer()
        for m in Fixtures.messages { FrameCodec.encode(m, into: &whole) }
        let stream = Array(whole.readableBytesView)
        var wholeOut: [Message] = []
        while let m = try FrameCodec.decode(from: &whole) { wholeOut.append(m) }

        var incremental = ByteBuffer()
        var incrementalOut: [Message] = []
        var nilCount = 0
        for byte in stream {
            incremental.writeInteger(byte)
            while true {
                let before = incremental.readerIndex
                guard let m = try FrameCodec.decode(from: &incremental) else {
                    XCTAssertEqual(incremental.readerIndex, before, "nil must consume nothing")
                    nilCount += 1
                    break
                }
                incrementalOut.append(m)
            }
        }
        XCTAssertEqual(incrementalOut, wholeOut)
        XCTAssertFalse(wholeOut.isEmpty)
        XCTAssertEqual(nilCount, stream.count, "exactly one nil per byte fed")
        XCTAssertEqual(incremental.readableBytes, 0)
    }

    func testByteByByteFailsWithTheSameErrorAsWholeBuffer() {
        let bad: [[UInt8]] = [
            Array("HDX".utf8) + [1, 1],
            Fixtures.rawFrame(type: 1, payload: [], version: 9),
            Fixtures.rawFrame(type: 99, payload: []),
            Fixtures.rawFrame(type: 13, payload: [], reserved: 1 << 8),
            Fixtures.rawFrame(type: 1, payload: [], length: 1 << 20),
            Fixtures.rawFrame(type: 13, payload: [0]),
            Fixtures.rawFrame(type: 4, payload: [1, 0, 0, 0, 0xff] + [UInt8](repeating: 0, count: 8)),
        ]
        for bytes in bad {
            guard let wholeError = Fixtures.decodeError(bytes) else { continue }
            var buffer = ByteBuffer()
            var incrementalError: ProtocolError?
            for byte in bytes where incrementalError == nil {
                buffer.writeInteger(byte)
                do { _ = try FrameCodec.decode(from: &buffer) } catch { incrementalError = error as? ProtocolError }
            }
            XCTAssertEqual(incrementalError, wholeError)
        }
    }

    func testOversizedLengthIsRejectedFromTheHeaderAlone() {
        for type in MessageType.allCases {
            let max = FrameCodec.maxPayload(for: type)
            let header = Fixtures.rawFrame(type: type.rawValue, payload: [], length: UInt32(max + 1))
            XCTAssertEqual(header.count, FrameCodec.headerSize)
            XCTAssertEqual(Fixtures.decodeError(header), .frameTooLarge(type: type, length: max + 1, max: max))
            // Exactly the maximum is fine: the decoder just waits for the payload.
            var atMax = ByteBuffer(bytes: Fixtures.rawFrame(type: type.rawValue, payload: [], length: UInt32(max)))
            XCTAssertNil(try FrameCodec.decode(from: &atMax))
        }
        XCTAssertEqual(FrameCodec.maxPayload(for: .hello), 64 * 1024)
        XCTAssertEqual(FrameCodec.maxPayload(for: .register), 1 << 20)
        XCTAssertEqual(FrameCodec.maxPayload(for: .failed), 1 << 20)
        XCTAssertEqual(FrameCodec.maxPayload(for: .assign), 256 << 20)
        XCTAssertEqual(FrameCodec.maxPayload(for: .result), 1 << 30)
        XCTAssertEqual(FrameCodec.maxPayload(for: .checkpoint), 1 << 30)
        var all = ByteBuffer(bytes: Fixtures.rawFrame(type: 10, payload: [], length: .max))
        XCTAssertThrowsError(try FrameCodec.decode(from: &all))
    }

    func testPayloadLimitCapsEveryType() throws {
        var buffer = ByteBuffer(bytes: Fixtures.rawFrame(type: MessageType.result.rawValue, payload: [],
                                                         length: 64 * 1024 + 1))
        XCTAssertThrowsError(try FrameCodec.decode(from: &buffer, payloadLimit: 64 * 1024)) { error in
            XCTAssertEqual(error as? ProtocolError,
                           .frameTooLarge(type: .result, length: 64 * 1024 + 1, max: 64 * 1024))
        }
        var fine = Fixtures.frame(.drain)
        XCTAssertEqual(try FrameCodec.decode(from: &fine, payloadLimit: 0), .drain)
    }

    func testEncodeCheckedRefusesWhatThePeerWouldRefuse() {
        let refused: [(Message, ProtocolError)] = [
            (.hello(version: UInt16(FrameCodec.protocolVersion), name: "w", nonce: [1, 2, 3]),
             .invalidField(name: "hello.nonce", reason: "must be 32 bytes, got 3")),
            (.challenge(nonce: Fixtures.nonceA, proof: []),
             .invalidField(name: "challenge.proof", reason: "must be 32 bytes, got 0")),
            (.proof(proof: Fixtures.nonceA + [0]), .invalidField(name: "proof.proof", reason: "must be 32 bytes, got 33")),
            (.welcome(coordinator: "c", heartbeatSeconds: .infinity),
             .invalidField(name: "welcome.heartbeatSeconds", reason: "not a finite number")),
            (.heartbeat(state: WorkerLinkState(stepsPerSecond: .nan)),
             .invalidField(name: "heartbeat.stepsPerSecond", reason: "not a finite number")),
            (.result(jobID: 1, attempt: 1, png: [], latents: WireTensor(shape: [2, 2], data: [1]), metadataJSON: ""),
             .invalidField(name: "result.latents", reason: "shape [2, 2] does not match 1 elements")),
            (.result(jobID: 1, attempt: 1, png: [], latents: WireTensor(shape: Array(repeating: 1, count: 9),
                                                                        data: [1]), metadataJSON: ""),
             .invalidField(name: "result.latents.rank", reason: "rank 9 exceeds 8")),
            (.goodbye(reason: String(repeating: "x", count: 64 * 1024)),
             .frameTooLarge(type: .goodbye, length: 64 * 1024 + 4, max: 64 * 1024)),
        ]
        for (m, expected) in refused {
            var buffer = ByteBuffer(bytes: [0xEE])
            XCTAssertThrowsError(try FrameCodec.encodeChecked(m, into: &buffer)) { error in
                XCTAssertEqual(error as? ProtocolError, expected)
            }
            XCTAssertEqual(Array(buffer.readableBytesView), [0xEE], "buffer must be left unchanged")
        }
    }

    func testTensorClaimingHugeCountFailsFastWithoutAllocating() {
        var p = PayloadBuilder()
        p.i64(1); p.i32(1); p.blob([])
        p.u8(1); p.u32(1 << 31)           // 2^31 elements = 8 GiB of floats
        p.bytes += [UInt8](repeating: 0, count: 10)
        let elapsed = ContinuousClock().measure {
            XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: MessageType.result.rawValue, payload: p.bytes)),
                           .truncated(field: "result.latents.data"))
        }
        XCTAssertLessThan(elapsed, .milliseconds(500))
        // Same for blobs and model lists that claim more than the payload holds.
        var q = PayloadBuilder()
        q.i64(1); q.i32(1); q.i32(1); q.u32(.max)
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: MessageType.checkpoint.rawValue, payload: q.bytes)),
                       .truncated(field: "checkpoint.state"))
    }

    func testDescriptionsAreReadable() {
        let errors: [ProtocolError] = [
            .badMagic, .unsupportedVersion(2), .unknownType(0), .reservedBits,
            .frameTooLarge(type: .hello, length: 70000, max: 65536), .truncated(field: "hello.name"),
            .trailingBytes(type: .drain, count: 1), .invalidField(name: "x", reason: "y"),
            .unexpected(message: "register", state: "awaiting proof"), .authenticationFailed, .timeout(what: "hs"),
        ]
        let descriptions = errors.map(\.description)
        XCTAssertEqual(Set(descriptions).count, errors.count)
        XCTAssertTrue(descriptions[4].contains("70000") && descriptions[4].contains("hello"))
        XCTAssertTrue(descriptions[8].contains("register") && descriptions[8].contains("awaiting proof"))
    }
}
