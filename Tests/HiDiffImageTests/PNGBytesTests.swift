import Foundation
import HiDiffImage
import XCTest

/// PNG in memory: `encode` is what `write` stores, `read(bytes:)` is what `read(_:)` returns for the file.
final class PNGBytesTests: XCTestCase {
    func testEncodeAndReadBytesMatchTheFiles() throws {
        let image = RGBImage(width: 5, height: 3, pixels: (0..<45).map { UInt8($0 * 5) })
        let chunks = [(key: "parameters", value: "steps: 3"), (key: "hidiff", value: "{\"seed\":1}")]
        let path = NSTemporaryDirectory() + "hidiff-png-bytes-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try PNGWriter.write(image, to: path, textChunks: chunks)
        let bytes = try PNGWriter.encode(image, textChunks: chunks)
        XCTAssertEqual(bytes, [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        XCTAssertEqual(try PNGReader.read(bytes: bytes), image)
        XCTAssertEqual(try PNGReader.read(bytes: bytes), try PNGReader.read(path))
        XCTAssertEqual(try PNGReader.textChunks(in: bytes).map(\.value), chunks.map(\.value))
        XCTAssertThrowsError(try PNGReader.read(bytes: [1, 2, 3])) {
            XCTAssertEqual($0 as? PNGError, .notPNG(path: "<memory>"))
        }
        XCTAssertThrowsError(try PNGReader.read(bytes: Array(bytes.prefix(bytes.count / 2)), name: "half.png")) {
            guard case .corrupt(let name, _)? = $0 as? PNGError else { return XCTFail("\($0)") }
            XCTAssertEqual(name, "half.png")
        }
    }
}
