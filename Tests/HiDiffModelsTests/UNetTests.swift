import Foundation
import HiDiffCore
import HiDiffModels
import XCTest

/// UNet2DConditionModel against diffusers 0.29.2 (fp32) on the tiny SD 1.5 and SD 2.1 U-Nets
/// (max abs error <= 1e-4 * max abs reference), plus the config, error and per-call-seam contracts.
final class UNetTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path

    private struct Cases: Decodable {
        struct Case: Decodable {
            var name: String
            var timestep: Double
        }
        var unet: [Case]
    }

    static func folder(_ model: String) throws -> DiffusersFolder {
        try DiffusersFolder(path: "\(fixtures)/models/\(model)")
    }

    static func unet(_ model: String, source: ((any TensorSource) -> any TensorSource)? = nil) throws
        -> UNet2DConditionModel {
        let folder = try folder(model)
        var weights = try folder.weights("unet")
        if let source { weights = Weights(source(weights.source)) }
        return try UNet2DConditionModel(config: folder.config("unet", as: UNetConfig.self), weights: weights)
    }

    private func assertParity(_ model: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let unet = try Self.unet(model)
        let dir = "\(Self.fixtures)/\(model)"
        // cases.json carries scheduler configs with a bare -Infinity (as diffusers writes them): JSON5 reads it.
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        let cases = try decoder.decode(Cases.self, from: Data(contentsOf: URL(fileURLWithPath: "\(dir)/cases.json")))
        let ref = try SafeTensorsFile(path: "\(dir)/unet.safetensors")
        XCTAssertFalse(cases.unet.isEmpty, "no unet cases in \(dir)/cases.json", file: file, line: line)
        for c in cases.unet {
            let out = try unet(try ref.load("\(c.name).sample"), timestep: Float(c.timestep),
                               encoderHiddenStates: try ref.load("\(c.name).encoder_hidden_states"))
            let expected = try ref.load("\(c.name).out")
            XCTAssertEqual(out.shape, expected.shape, "\(model) \(c.name)", file: file, line: line)
            let err = out.maxAbsDifference(expected), scale = expected.maxAbs
            XCTAssertGreaterThan(scale, 0, file: file, line: line)
            XCTAssertLessThanOrEqual(err, 1e-4 * scale, "\(model) \(c.name): max abs err \(err), max abs ref \(scale)",
                                     file: file, line: line)
        }
    }

    func testSD15TinyMatchesDiffusers() throws { try assertParity("sd15-tiny") }

    func testSD21TinyMatchesDiffusers() throws { try assertParity("sd21-tiny") }

    // MARK: config

    func testEmptyConfigTakesDiffusersDefaults() throws {
        let c = try JSONDecoder().decode(UNetConfig.self, from: Data("{}".utf8))
        XCTAssertEqual(c.blockOutChannels, [320, 640, 1280, 1280])
        XCTAssertEqual(c.downBlockTypes, ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                          "DownBlock2D"])
        XCTAssertEqual(c.upBlockTypes, ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"])
        XCTAssertEqual(c.midBlockType, "UNetMidBlock2DCrossAttn")
        XCTAssertEqual(c.normNumGroups, 32)
        XCTAssertEqual(c.normEps, 1e-5)
        XCTAssertTrue(c.flipSinToCos)
        XCTAssertEqual(c.freqShift, 0)
        XCTAssertFalse(c.useLinearProjection)
        XCTAssertEqual(c.timeEmbedDim, 1280)
        let blocks = try c.resolvedBlocks()
        XCTAssertEqual(blocks.heads, [8, 8, 8, 8])  // attention_head_dim is the head count
        XCTAssertEqual(blocks.layers, [2, 2, 2, 2])
        XCTAssertEqual(blocks.crossAttentionDims, [1280, 1280, 1280, 1280])
        XCTAssertEqual(blocks.transformerLayers, [1, 1, 1, 1])
        XCTAssertNoThrow(try c.validate())
    }

    func testSD21ConfigTakesPerBlockHeadsAndLinearProjection() throws {
        let c = try Self.folder("sd21-tiny").config("unet", as: UNetConfig.self)
        XCTAssertEqual(try c.resolvedBlocks().heads, [2, 4, 8, 8])
        XCTAssertTrue(c.useLinearProjection)
        XCTAssertTrue(c.upcastAttention)
    }

    func testUnsupportedOptionIsNamed() throws {
        let json = #"{"class_embed_type": "timestep", "num_class_embeds": null}"#
        let c = try JSONDecoder().decode(UNetConfig.self, from: Data(json.utf8))
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual(error as? ModelConfigError, .unsupported(field: "class_embed_type", value: "timestep"))
        }
        let heads = try JSONDecoder().decode(UNetConfig.self, from: Data(#"{"num_attention_heads": 8}"#.utf8))
        XCTAssertThrowsError(try heads.validate()) { error in
            guard case .unsupported(let field, _)? = error as? ModelConfigError else {
                return XCTFail("expected ModelConfigError.unsupported, got \(error)")
            }
            XCTAssertEqual(field, "num_attention_heads")
        }
        let lists = try JSONDecoder().decode(UNetConfig.self, from: Data(#"{"layers_per_block": [2, 2]}"#.utf8))
        XCTAssertThrowsError(try lists.validate()) { error in
            XCTAssertEqual(error as? ModelConfigError,
                           .invalid(field: "layers_per_block", reason: "has 2 entries for 4 blocks"))
        }
    }

    // MARK: weights and inputs

    func testMissingWeightIsNamed() throws {
        let dropped = "up_blocks.2.attentions.1.transformer_blocks.0.attn2.to_k.weight"
        XCTAssertThrowsError(try Self.unet("sd15-tiny") { DroppingSource(base: $0, dropped: dropped) }) { error in
            guard case .missing(let name, _)? = error as? WeightError else {
                return XCTFail("expected WeightError.missing, got \(error)")
            }
            XCTAssertEqual(name, dropped)
        }
    }

    func testBadInputsThrow() throws {
        let unet = try Self.unet("sd15-tiny")
        let ehs = Tensor(zeros: [1, 77, 32])
        XCTAssertThrowsError(try unet(Tensor(zeros: [1, 3, 8, 8]), timestep: 1, encoderHiddenStates: ehs))
        XCTAssertThrowsError(try unet(Tensor(zeros: [1, 4, 8, 8]), timestep: 1,
                                      encoderHiddenStates: Tensor(zeros: [1, 77, 31])))
        XCTAssertThrowsError(try unet(Tensor(zeros: [2, 4, 8, 8]), timestep: 1, encoderHiddenStates: ehs))
        XCTAssertThrowsError(try unet(Tensor(zeros: [1, 4, 8, 8]), timesteps: [1, 2, 3], encoderHiddenStates: ehs))
        XCTAssertThrowsError(try unet(
            Tensor(zeros: [1, 4, 8, 8]), timestep: 1, encoderHiddenStates: ehs,
            added: UNetAddedConditions(textEmbeds: Tensor(zeros: [1, 4]), timeIds: Tensor(zeros: [1, 6])))) { error in
            XCTAssertTrue(error is UNetError, "\(error)")
        }
    }
}

/// A checkpoint with one tensor removed.
private struct DroppingSource: TensorSource {
    var base: any TensorSource
    var dropped: String
    var names: [String] { base.names.filter { $0 != dropped } }
    func shape(of name: String) -> [Int]? { name == dropped ? nil : base.shape(of: name) }
    func load(_ name: String) throws -> Tensor {
        guard name != dropped else { throw WeightError.missing(name: name, file: origin) }
        return try base.load(name)
    }
    var origin: String { base.origin }
}
