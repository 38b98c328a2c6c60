import Foundation
import HiDiffCore
import HiDiffTestSupport
import XCTest

/// Locates `Tests/Fixtures` from this source file and reads the oracle files `tools/reference` wrote.
enum FixtureFiles {
    /// `<package root>/Tests/Fixtures/<name>`: the first ancestor of this file holding `Tests/Fixtures`.
    static func url(_ name: String, file: StaticString = #filePath) throws -> URL {
        var dir = URL(fileURLWithPath: "\(file)").deletingLastPathComponent()
        while dir.path != "/" {
            let fixtures = dir.appendingPathComponent("Tests/Fixtures")
            if FileManager.default.fileExists(atPath: fixtures.path) {
                return fixtures.appendingPathComponent(name)
            }
            dir.deleteLastPathComponent()
        }
        throw HiDiffTestSupport.FixtureError("Tests/Fixtures not found above \(file)")
    }

    /// The F32 tensors of a safetensors file (the tests' own minimal reader).
    static func safetensors(_ name: String) throws -> [String: Tensor] {
        let data = try Data(contentsOf: url(name))
        guard data.count >= 8 else { throw FixtureError.malformed(name, "shorter than its header length") }
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        guard 8 + headerLength <= data.count,
              let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength)))
                as? [String: Any]
        else { throw FixtureError.malformed(name, "unreadable header") }
        let body = data.subdata(in: (8 + headerLength)..<data.count)
        var tensors: [String: Tensor] = [:]
        for (key, value) in header where key != "__metadata__" {
            guard let entry = value as? [String: Any], entry["dtype"] as? String == "F32",
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int],
                  offsets.count == 2, offsets[1] <= body.count
            else { throw FixtureError.malformed(name, "tensor \(key) is not a readable F32 entry") }
            let floats = body.subdata(in: offsets[0]..<offsets[1]).withUnsafeBytes { raw in
                (0..<(raw.count / 4)).map {
                    Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))
                }
            }
            tensors[key] = Tensor(shape: shape, data: floats)
        }
        return tensors
    }
}

enum FixtureError: Error, CustomStringConvertible {
    case malformed(String, String)
    case missing(String)
    var description: String {
        switch self {
        case let .malformed(file, why): "fixture \(file): \(why)"
        case let .missing(what): "fixture entry missing: \(what)"
        }
    }
}
