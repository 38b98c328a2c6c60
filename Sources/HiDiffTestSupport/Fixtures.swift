import Foundation
import HiDiffCore

/// Locates the committed reference fixtures (`Tests/Fixtures/`) from any test file.
public enum Fixtures {
    /// The package root, found by walking up from this source file to the folder holding Package.swift.
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url
            }
            url = url.deletingLastPathComponent()
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// `Tests/Fixtures/<relative>`.
    public static func url(_ relative: String) -> URL {
        packageRoot.appendingPathComponent("Tests/Fixtures").appendingPathComponent(relative)
    }

    /// `Tests/Fixtures/<relative>` as a file-system path.
    public static func path(_ relative: String) -> String { url(relative).path }

    /// Decodes a JSON fixture. Python's non-standard `NaN`/`Infinity` literals (written for a few scheduler
    /// fields) become null, since Foundation's JSONSerialization rejects them; typed configs that need the
    /// values decode the file with a JSON5 `JSONDecoder` instead.
    public static func json(_ relative: String) throws -> Any {
        var text = try String(contentsOf: url(relative), encoding: .utf8)
        for literal in ["-Infinity", "Infinity", "NaN"] {
            text = text.replacingOccurrences(of: ": \(literal)", with: ": null")
        }
        return try JSONSerialization.jsonObject(with: Data(text.utf8))
    }
}

/// A tensor stored in a JSON fixture as {"shape": [...], "data": [...]}.
public func tensor(fromJSON value: Any?) -> Tensor? {
    guard let dict = value as? [String: Any], let shape = dict["shape"] as? [Int],
          let data = dict["data"] as? [Double] else { return nil }
    return Tensor(shape: shape, data: data.map { Float($0) })
}

/// The parity measure used across the tests: max |a - b| divided by max |reference| (or 1 if that is 0).
public func relativeError(_ actual: Tensor, _ reference: Tensor) -> Float {
    precondition(actual.shape == reference.shape, "shape \(actual.shape) vs reference \(reference.shape)")
    let scale = reference.maxAbs
    return actual.maxAbsDifference(reference) / (scale > 0 ? scale : 1)
}

/// A fixture a test needs is missing or malformed: a test failure, never a skip.
public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
