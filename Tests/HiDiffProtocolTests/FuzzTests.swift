import HiDiffProtocol
import NIOCore
import XCTest

/// Bounded, deterministic fuzzing of the decoder with mutated valid frames.
final class FuzzTests: XCTestCase {
    private enum Outcome: Equatable {
        case message(Message)
        case needMore
        case error(ProtocolError)
    }

    private static let iterations = 20_000

    /// Decodes the whole buffer once; checks the decoder's consumption rules and, for a message, that it
    /// re-encodes canonically and decodes to the same message again.
    private func decodeWhole(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> Outcome {
        var buffer = ByteBuffer(bytes: bytes)
        do {
            guard let m = try FrameCodec.decode(from: &buffer) else {
                XCTAssertEqual(buffer.readableBytes, bytes.count, "nil must consume nothing", file: file, line: line)
                return .needMore
            }
            let consumed = bytes.count - buffer.readableBytes
            let reencoded = Fixtures.bytes(m)
            XCTAssertEqual(reencoded, Array(bytes[0..<consumed]), "decoded \(m.type) must re-encode to its frame",
                           file: file, line: line)
            var again = ByteBuffer(bytes: reencoded)
            XCTAssertEqual(try FrameCodec.decode(from: &again), m, file: file, line: line)
            return .message(m)
        } catch let e as ProtocolError {
            return .error(e)
        } catch {
            XCTFail("non-protocol error \(error)", file: file, line: line)
            return .needMore
        }
    }

    /// The same bytes fed one at a time must end the same way.
    private func decodeByteByByte(_ bytes: [UInt8]) -> Outcome {
        var buffer = ByteBuffer()
        for byte in bytes {
            buffer.writeInteger(byte)
            do {
                if let m = try FrameCodec.decode(from: &buffer) { return .message(m) }
            } catch let e as ProtocolError {
                return .error(e)
            } catch {
                XCTFail("non-protocol error \(error)")
            }
        }
        return .needMore
    }

    private func mutate(_ frame: [UInt8], _ other: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = frame
        switch Int.random(in: 0..<7, using: &rng) {
        case 0:  // bit flips anywhere
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<b.count, using: &rng)
                b[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            }
        case 1:  // truncation
            b = Array(b.prefix(Int.random(in: 0..<b.count, using: &rng)))
        case 2:  // length field edits: small deltas, random values, extremes
            let old = UInt32(b[8]) | UInt32(b[9]) << 8 | UInt32(b[10]) << 16 | UInt32(b[11]) << 24
            let new: UInt32
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: new = old &+ UInt32(Int.random(in: 1...8, using: &rng))
            case 1: new = old &- UInt32(Int.random(in: 1...8, using: &rng))
            case 2: new = UInt32.random(in: 0...UInt32.max, using: &rng)
            default: new = [0, UInt32.max, 1 << 16, (1 << 16) + 1, 1 << 30][Int.random(in: 0..<5, using: &rng)]
            }
            for k in 0..<4 { b[8 + k] = UInt8(truncatingIfNeeded: new >> UInt32(8 * k)) }
        case 3:  // random bytes anywhere
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
        case 4:  // a valid header in front of random payload bytes
            let payload = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            b = Fixtures.rawFrame(type: b[4], payload: payload)
        case 5:  // insert or delete payload bytes, keeping the header's length (or fixing it up)
            if b.count > 12, Bool.random(using: &rng) {
                b.remove(at: Int.random(in: 12..<b.count, using: &rng))
            } else {
                b.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 12...b.count, using: &rng))
            }
            if Bool.random(using: &rng) {
                let n = UInt32(b.count - 12)
                for k in 0..<4 { b[8 + k] = UInt8(truncatingIfNeeded: n >> UInt32(8 * k)) }
            }
        default:  // splice: this frame's header with another frame's payload
            b = Array(b.prefix(12)) + Array(other.dropFirst(12))
        }
        return b
    }

    func testMutatedFramesNeverCrashAndDecodeConsistently() {
        let seeds = Fixtures.messages.map(Fixtures.bytes)
        var rng = SplitMix64(seed: 0x4844_4631)
        var messages = 0, needMore = 0, errors = 0, crossChecked = 0
        var errorKinds = Set<String>()
        for i in 0..<Self.iterations {
            let frame = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
            let other = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
            let input = mutate(frame, other, &rng)
            let whole = decodeWhole(input)
            switch whole {
            case .message: messages += 1
            case .needMore: needMore += 1
            case .error(let e):
                errors += 1
                errorKinds.insert("\(e.kind)".prefix { $0 != "(" }.description)
            }
            if i % 8 == 0 {
                XCTAssertEqual(decodeByteByByte(input), whole, "input \(input)")
                crossChecked += 1
            }
        }
        // The fuzz is only meaningful if it reaches all three outcomes and many different errors.
        XCTAssertGreaterThan(messages, 100)
        XCTAssertGreaterThan(needMore, 100)
        XCTAssertGreaterThan(errors, 1000)
        XCTAssertGreaterThanOrEqual(errorKinds.count, 7, "\(errorKinds)")
        XCTAssertEqual(messages + needMore + errors, Self.iterations)
        print("fuzz: \(messages) messages, \(needMore) need-more, \(errors) errors \(errorKinds.sorted()), "
              + "\(crossChecked) checked byte by byte")
    }

    func testPurelyRandomStreamsNeverCrash() {
        var rng = SplitMix64(seed: 99)
        for _ in 0..<2000 {
            var bytes = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if Bool.random(using: &rng) {
                // Mostly-valid header so random payloads reach the field decoders.
                let t = UInt8.random(in: 1...UInt8(MessageType.allCases.count), using: &rng)
                bytes = Fixtures.rawFrame(type: t, payload: bytes)
            }
            _ = decodeWhole(bytes)
        }
    }
}
