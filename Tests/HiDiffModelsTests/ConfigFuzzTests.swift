import Foundation
import HiDiffModels
import HiDiffTestSupport
import XCTest

/// Bounded, deterministic fuzzing of the model config decoders: random mutations of the fixture configs must
/// either load (decode + validate) or throw, never trap.
final class ConfigFuzzTests: XCTestCase {
    /// Mutations per component config.
    static let iterations = 2_000

    func testMutatedUNetConfigsLoadOrThrow() throws {
        let stats = try fuzz("unet") { data in
            let config = try Self.decoder.decode(UNetConfig.self, from: data)
            try config.checkValues(file: "unet/config.json")
            try config.validate()
            _ = try config.resolvedBlocks()
            _ = config.timeEmbedDim
        }
        XCTAssertGreaterThan(stats.loaded, 0)
        XCTAssertGreaterThan(stats.refused, 0)
    }

    func testMutatedVAEConfigsLoadOrThrow() throws {
        let stats = try fuzz("vae") { data in
            let config = try Self.decoder.decode(VAEConfig.self, from: data)
            try config.checkValues(file: "vae/config.json")
            try config.validate()
            _ = config.downsamplingFactor
        }
        XCTAssertGreaterThan(stats.loaded, 0)
        XCTAssertGreaterThan(stats.refused, 0)
    }

    func testMutatedTextEncoderConfigsLoadOrThrow() throws {
        let stats = try fuzz("text_encoder") { data in
            let config = try Self.decoder.decode(CLIPTextConfig.self, from: data)
            try config.checkValues(file: "text_encoder/config.json")
            try config.validate()
        }
        XCTAssertGreaterThan(stats.loaded, 0)
        XCTAssertGreaterThan(stats.refused, 0)
    }

    private static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.allowsJSON5 = true
        return d
    }

    /// Applies `iterations` seeded mutations to `models/sd15-tiny/<component>/config.json` and runs `load`
    /// on each; a trap would end the test process, so reaching the end is the assertion.
    private func fuzz(_ component: String, load: (Data) throws -> Void) throws -> (loaded: Int, refused: Int) {
        let path = Fixtures.path("models/sd15-tiny/\(component)/config.json")
        guard FileManager.default.fileExists(atPath: path) else { throw FixtureError("sd15-tiny fixture not present") }
        let original = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
                                        as? [String: Any])
        var rng = JSONMutator(seed: 0x5EED_0000 ^ UInt64(component.count))
        var loaded = 0, refused = 0
        for _ in 0..<Self.iterations {
            let data = rng.mutate(original)
            do {
                try load(data)
                loaded += 1
            } catch {
                XCTAssertFalse("\(error)".isEmpty)
                refused += 1
            }
        }
        return (loaded, refused)
    }
}
