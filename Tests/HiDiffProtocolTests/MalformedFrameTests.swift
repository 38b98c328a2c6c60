import HiDiffProtocol
import NIOCore
import XCTest

/// Every decoder-side `ProtocolError` case, from hand-made frames. (`unexpected`, `authenticationFailed` and
/// `timeout` come from the link state machines and are triggered in the link tests.)
final class MalformedFrameTests: XCTestCase {
    private func frame(_ type: MessageType, _ build: (inout PayloadBuilder) -> Void) -> [UInt8] {
        var p = PayloadBuilder()
        build(&p)
        return Fixtures.rawFrame(type: type.rawValue, payload: p.bytes)
    }

    func testBadMagic() {
        var bytes = Fixtures.bytes(.drain)
        bytes[1] = UInt8(ascii: "X")
        XCTAssertEqual(Fixtures.decodeError(bytes), .badMagic)
        // Detected from the first byte, without waiting for a whole header.
        XCTAssertEqual(Fixtures.decodeError([0x00]), .badMagic)
    }

    func testUnsupportedVersion() {
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: 14, payload: [], version: 1)), .unsupportedVersion(1))
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: 14, payload: [], version: 3)), .unsupportedVersion(3))
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: 14, payload: [], version: 0)), .unsupportedVersion(0))
    }

    func testUnknownType() {
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: 0, payload: [])), .unknownType(0))
        let firstUnused = UInt8(MessageType.allCases.count + 1)
        XCTAssertNil(MessageType(rawValue: firstUnused))
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: firstUnused, payload: [])), .unknownType(firstUnused))
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: 255, payload: [])), .unknownType(255))
    }

    func testReservedBits() {
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: 13, payload: [], flags: 1)), .reservedBits)
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: 13, payload: [], reserved: 1)), .reservedBits)
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: 13, payload: [], reserved: 0x8000)), .reservedBits)
    }

    func testFrameTooLarge() {
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: 1, payload: [], length: 65537)),
                       .frameTooLarge(type: .hello, length: 65537, max: 65536))
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: 7, payload: [], length: UInt32(256 << 20) + 1)),
                       .frameTooLarge(type: .assign, length: (256 << 20) + 1, max: 256 << 20))
    }

    func testTruncatedFields() {
        // Payload shorter than its fixed fields.
        XCTAssertEqual(Fixtures.decodeError(frame(.cancel) { $0.i64(1) }), .truncated(field: "cancel.attempt"))
        XCTAssertEqual(Fixtures.decodeError(frame(.hello) { $0.u8(1) }), .truncated(field: "hello.version"))
        // A string length beyond the payload.
        XCTAssertEqual(Fixtures.decodeError(frame(.goodbye) { $0.u32(5); $0.bytes += [0x61, 0x62] }),
                       .truncated(field: "goodbye.reason"))
        // A nonce length beyond the payload is reported as truncation, before its expected size is checked.
        XCTAssertEqual(Fixtures.decodeError(frame(.proof) { $0.u32(32); $0.bytes += [1, 2] }),
                       .truncated(field: "proof.proof"))
        // Tensor: shape larger than the bytes that follow.
        XCTAssertEqual(Fixtures.decodeError(frame(.result) {
            $0.i64(1); $0.i32(1); $0.blob([]); $0.u8(2); $0.u32(2); $0.u32(2); $0.bytes += [UInt8](repeating: 0, count: 12)
        }), .truncated(field: "result.latents.data"))
        // Tensor: rank announces more dimensions than present.
        XCTAssertEqual(Fixtures.decodeError(frame(.result) { $0.i64(1); $0.i32(1); $0.blob([]); $0.u8(3); $0.u32(1) }),
                       .truncated(field: "result.latents.shape"))
        // Model list count beyond what the bytes can hold.
        XCTAssertEqual(Fixtures.decodeError(frame(.register) {
            for _ in 0..<2 { $0.string("a") }
            $0.i32(1); $0.i64(1); $0.string("v"); $0.string("k"); $0.u32(1000)
        }), .truncated(field: "register.models"))
        // Optional present but its value missing.
        XCTAssertEqual(Fixtures.decodeError(frame(.heartbeat) { $0.u8(1); $0.u8(1); $0.i32(0) }),
                       .truncated(field: "heartbeat.busyJobID"))
    }

    func testTrailingBytes() {
        XCTAssertEqual(Fixtures.decodeError(Fixtures.rawFrame(type: MessageType.drain.rawValue, payload: [0])),
                       .trailingBytes(type: .drain, count: 1))
        XCTAssertEqual(Fixtures.decodeError(frame(.accepted) { $0.i64(1); $0.i32(1); $0.bytes += [0, 0, 0] }),
                       .trailingBytes(type: .accepted, count: 3))
        // A tensor shorter than the bytes that follow it: the rest is not a valid string + nothing more.
        XCTAssertEqual(Fixtures.decodeError(frame(.result) {
            $0.i64(1); $0.i32(1); $0.blob([]); $0.u8(1); $0.u32(1); $0.bytes += [0, 0, 0, 0]; $0.string("{}"); $0.u8(9)
        }), .trailingBytes(type: .result, count: 1))
    }

    func testInvalidFields() {
        XCTAssertEqual(Fixtures.decodeError(frame(.goodbye) { $0.blob([0x61, 0xff, 0x62]) }),
                       .invalidField(name: "goodbye.reason", reason: "not valid UTF-8"))
        XCTAssertEqual(Fixtures.decodeError(frame(.goodbye) { $0.blob([0xf0, 0x9f, 0x98]) }),  // cut-off emoji
                       .invalidField(name: "goodbye.reason", reason: "not valid UTF-8"))
        XCTAssertEqual(Fixtures.decodeError(frame(.goodbye) { $0.blob([0xed, 0xa0, 0x80]) }),  // UTF-16 surrogate
                       .invalidField(name: "goodbye.reason", reason: "not valid UTF-8"))
        XCTAssertEqual(Fixtures.decodeError(frame(.hello) { $0.u16(1); $0.string("w"); $0.blob(Array(repeating: 1, count: 31)) }),
                       .invalidField(name: "hello.nonce", reason: "must be 32 bytes, got 31"))
        XCTAssertEqual(Fixtures.decodeError(frame(.challenge) { $0.blob(Fixtures.nonceA); $0.blob([]) }),
                       .invalidField(name: "challenge.proof", reason: "must be 32 bytes, got 0"))
        XCTAssertEqual(Fixtures.decodeError(frame(.failed) { $0.i64(1); $0.i32(1); $0.string("x"); $0.u8(2) }),
                       .invalidField(name: "failed.retryable", reason: "boolean byte 2 is neither 0 nor 1"))
        XCTAssertEqual(Fixtures.decodeError(frame(.heartbeat) { $0.u8(7) }),
                       .invalidField(name: "heartbeat.state", reason: "optional tag 7 is neither 0 nor 1"))
        XCTAssertEqual(Fixtures.decodeError(frame(.welcome) { $0.string("c"); $0.f64(.nan) }),
                       .invalidField(name: "welcome.heartbeatSeconds", reason: "not a finite number"))
        XCTAssertEqual(Fixtures.decodeError(frame(.result) { $0.i64(1); $0.i32(1); $0.blob([]); $0.u8(9) }),
                       .invalidField(name: "result.latents.rank", reason: "rank 9 exceeds 8"))
        XCTAssertEqual(Fixtures.decodeError(frame(.result) {
            $0.i64(1); $0.i32(1); $0.blob([]); $0.u8(3); for _ in 0..<3 { $0.u32(.max) }
        }), .invalidField(name: "result.latents.shape", reason: "element count overflows"))
        XCTAssertEqual(Fixtures.decodeError(frame(.register) {
            for _ in 0..<2 { $0.string("a") }
            $0.i32(1); $0.i64(1); $0.string("v"); $0.string("k"); $0.u32(UInt32(WorkerInfo.maxModels + 1))
        }), .invalidField(name: "register.models", reason: "count 4097 exceeds the limit of 4096"))
    }

    func testAZeroDimensionMakesAnEmptyTensorEvenWithHugeOtherDimensions() throws {
        let m = Message.result(jobID: 1, attempt: 1, png: [], latents: WireTensor(shape: [Int(UInt32.max), 0, 7], data: []),
                               metadataJSON: "")
        XCTAssertEqual(try Fixtures.decodeOne(Fixtures.bytes(m)), m)
    }
}
