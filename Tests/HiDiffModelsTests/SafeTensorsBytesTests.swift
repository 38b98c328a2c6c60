import Foundation
import HiDiffCore
import HiDiffModels
import XCTest

/// safetensors in memory: `SafeTensorsWriter.serialize` gives exactly the bytes `write` puts in a file, and
/// `SafeTensorsFile(bytes:)` reads them (and refuses damaged bytes) as `init(path:)` reads files.
final class SafeTensorsBytesTests: XCTestCase {
    let tensors = [("latents", Tensor(shape: [1, 2, 2, 2], data: [1, -0.0, .infinity, 3e-39, -2, 0.5, 7, 8])),
                   ("scalar", Tensor(shape: [], data: [42]))]

    func testSerializeEqualsTheFileWriteWrites() throws {
        let path = NSTemporaryDirectory() + "hidiff-bytes-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensorsWriter.write(tensors, to: path, metadata: ["k": "v"])
        let bytes = try SafeTensorsWriter.serialize(tensors, metadata: ["k": "v"])
        XCTAssertEqual(bytes, [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    func testBytesRoundTrip() throws {
        let st = try SafeTensorsFile(bytes: try SafeTensorsWriter.serialize(tensors, metadata: ["k": "v"]), name: "blob")
        XCTAssertEqual(st.path, "blob")
        XCTAssertEqual(st.names, ["latents", "scalar"])
        XCTAssertEqual(st.metadata, ["k": "v"])
        for (name, t) in tensors {
            XCTAssertEqual(try st.load(name).data.map(\.bitPattern), t.data.map(\.bitPattern), name)
            XCTAssertEqual(st.shape(of: name), t.shape)
        }
    }

    func testDamagedBytesThrow() throws {
        let bytes = try SafeTensorsWriter.serialize(tensors)
        for n in [0, 4, 8, 20, bytes.count - 1] {
            XCTAssertThrowsError(try SafeTensorsFile(bytes: Array(bytes.prefix(n))), "\(n) bytes") {
                XCTAssertTrue($0 is WeightError, "\($0)")
            }
        }
        XCTAssertThrowsError(try SafeTensorsWriter.serialize([("x", tensors[0].1), ("x", tensors[0].1)]))
    }
}
