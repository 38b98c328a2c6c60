import Foundation
import HiDiffCore
import HiDiffModels
import XCTest

/// AutoencoderKL against diffusers 0.29.2 (fp32) on the tiny SD 1.5 / SD 2.1 VAEs: every `encode*` case's
/// mean and logvar and every `decode*` case's output, max abs error <= 1e-4 * max abs reference.
final class VAETests: XCTestCase {
    static func vae(_ model: String, source: ((any TensorSource) -> any TensorSource)? = nil) throws -> AutoencoderKL {
        let folder = try DiffusersFolder(path: "\(UNetTests.fixtures)/models/\(model)")
        var weights = try folder.weights("vae")
        if let source { weights = Weights(source(weights.source)) }
        return try AutoencoderKL(config: folder.config("vae", as: VAEConfig.self), weights: weights)
    }

    private func assertClose(_ out: Tensor, _ expected: Tensor, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(out.shape, expected.shape, what, file: file, line: line)
        let err = out.maxAbsDifference(expected), scale = expected.maxAbs
        XCTAssertGreaterThan(scale, 0, what, file: file, line: line)
        XCTAssertLessThanOrEqual(err, 1e-4 * scale, "\(what): max abs err \(err), max abs ref \(scale)",
                                 file: file, line: line)
    }

    private func assertParity(_ model: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let vae = try Self.vae(model)
        let ref = try SafeTensorsFile(path: "\(UNetTests.fixtures)/\(model)/vae.safetensors")
        let prefixes = ref.names.filter { $0.hasSuffix(".in") }.map { String($0.dropLast(3)) }
        XCTAssertTrue(prefixes.contains("encode") && prefixes.contains("decode"), "\(prefixes)", file: file, line: line)
        for p in prefixes.sorted() {
            let input = try ref.load("\(p).in")
            if p.hasPrefix("encode") {
                let dist = try vae.encode(input)
                assertClose(dist.mean, try ref.load("\(p).mean"), "\(model) \(p).mean", file: file, line: line)
                assertClose(dist.logvar, try ref.load("\(p).logvar"), "\(model) \(p).logvar", file: file, line: line)
            } else {
                assertClose(try vae.decode(input), try ref.load("\(p).out"), "\(model) \(p).out", file: file, line: line)
            }
        }
    }

    func testSD15TinyMatchesDiffusers() throws { try assertParity("sd15-tiny") }

    func testSD21TinyMatchesDiffusers() throws { try assertParity("sd21-tiny") }

    func testConfigDefaultsAndDownsamplingFactor() throws {
        let c = try JSONDecoder().decode(VAEConfig.self, from: Data("{}".utf8))
        XCTAssertEqual(c.blockOutChannels, [64])
        XCTAssertEqual(c.layersPerBlock, 1)
        XCTAssertEqual(c.latentChannels, 4)
        XCTAssertEqual(c.normNumGroups, 32)
        XCTAssertEqual(c.scalingFactor, 0.18215)
        XCTAssertNil(c.shiftFactor)
        XCTAssertEqual(c.downsamplingFactor, 1)
        let tiny = try Self.vae("sd15-tiny")
        XCTAssertEqual(tiny.downsamplingFactor, 8)
        XCTAssertEqual(try tiny.decode(Tensor(zeros: [1, 4, 3, 5])).shape, [1, 3, 24, 40])
        let sdxl = #"{"block_out_channels": [128, 256, 512, 512], "scaling_factor": 0.13025, "shift_factor": 0.0609}"#
        let x = try JSONDecoder().decode(VAEConfig.self, from: Data(sdxl.utf8))
        XCTAssertEqual(x.shiftFactor, 0.0609)
        XCTAssertEqual(x.downsamplingFactor, 8)
    }

    /// Older checkpoints name the mid-block attention query/key/value/proj_attn; diffusers renames them on load.
    func testLegacyAttentionNamesLoadTheSameWeights() throws {
        let renames = [("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn")]
        var map: [String: String] = [:]
        for part in ["encoder", "decoder"] {
            for (new, old) in renames {
                for kind in ["weight", "bias"] {
                    map["\(part).mid_block.attentions.0.\(old).\(kind)"] = "\(part).mid_block.attentions.0.\(new).\(kind)"
                }
            }
        }
        let legacy = try Self.vae("sd15-tiny") { RemappedSource($0, map: map, passThroughUnmapped: true) }
        XCTAssertFalse(legacy.encoder.midBlock.attention.toQ.float32.data.isEmpty)
        let current = try Self.vae("sd15-tiny")
        let z = Tensor(shape: [1, 4, 2, 3], data: (0..<24).map { Float($0) / 12 - 1 })
        XCTAssertEqual(try legacy.decode(z), try current.decode(z))
    }

    func testBadInputsThrow() throws {
        let vae = try Self.vae("sd15-tiny")
        XCTAssertThrowsError(try vae.decode(Tensor(zeros: [1, 3, 4, 4])))
        XCTAssertThrowsError(try vae.encode(Tensor(zeros: [1, 4, 16, 16])))
        XCTAssertThrowsError(try vae.encode(Tensor(zeros: [1, 3, 4, 4])))
    }
}
