import Foundation
import HiDiffImage
import XCTest

/// A tiny PNG whose header declares a huge image is refused from its IHDR, before anything is decoded.
final class PNGSizeLimitTests: XCTestCase {
    /// A valid 1x1 PNG with the IHDR width and height rewritten (CRC fixed up) to `width` x `height`.
    private func png(declaring width: UInt32, _ height: UInt32) throws -> [UInt8] {
        var bytes = try PNGWriter.encode(RGBImage(width: 1, height: 1, pixels: [1, 2, 3]))
        XCTAssertEqual(Array(bytes[12..<16]), Array("IHDR".utf8))
        for (offset, value) in [(16, width), (20, height)] {
            for i in 0..<4 { bytes[offset + i] = UInt8((value >> (24 - 8 * UInt32(i))) & 0xFF) }
        }
        // CRC-32 over the chunk type and data (bytes 12..<29), stored at 29.
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes[12..<29] {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        for i in 0..<4 { bytes[29 + i] = UInt8((crc >> (24 - 8 * UInt32(i))) & 0xFF) }
        return bytes
    }

    func testTwentyThousandSquareIsRefusedFast() throws {
        let bytes = try png(declaring: 20000, 20000)
        XCTAssertLessThan(bytes.count, 1024)
        let start = Date()
        XCTAssertThrowsError(try PNGReader.read(bytes: bytes, name: "huge.png")) {
            XCTAssertEqual($0 as? PNGError, .tooLarge(path: "huge.png", width: 20000, height: 20000,
                                                      maxSide: PNGReader.maxSide, maxPixels: PNGReader.maxPixels))
            let message = "\($0)"
            XCTAssertTrue(message.contains("huge.png") && message.contains("20000x20000"), message)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
    }

    func testFileIsCheckedTheSameWay() throws {
        let path = NSTemporaryDirectory() + "hidiff-huge-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(try png(declaring: 20000, 20000)).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try PNGReader.read(path)) {
            guard case .tooLarge(path, 20000, 20000, _, _)? = $0 as? PNGError else { return XCTFail("\($0)") }
        }
    }

    func testOneLongSideIsRefused() throws {
        XCTAssertThrowsError(try PNGReader.read(bytes: try png(declaring: 16385, 1))) {
            guard case .tooLarge(_, 16385, 1, _, _)? = $0 as? PNGError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try PNGReader.read(bytes: try png(declaring: 1, UInt32.max))) {
            guard case .tooLarge? = $0 as? PNGError else { return XCTFail("\($0)") }
        }
    }

    func testSizesWithinTheLimitStillDecode() throws {
        XCTAssertEqual(try PNGReader.read(bytes: try png(declaring: 1, 1)), RGBImage(width: 1, height: 1, pixels: [1, 2, 3]))
        // Within the limit but inconsistent with the data: libpng reports it as corrupt, no size error.
        XCTAssertThrowsError(try PNGReader.read(bytes: try png(declaring: 64, 64))) {
            guard case .corrupt? = $0 as? PNGError else { return XCTFail("\($0)") }
        }
    }
}
