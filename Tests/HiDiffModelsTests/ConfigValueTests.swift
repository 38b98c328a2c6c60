import Foundation
import HiDiffModels
import HiDiffTestSupport
import XCTest

/// Model configs with values that used to trap (zero groups, negative layer counts) or silently produce black
/// images (zero epsilons, a zero VAE scaling factor) are refused at load, naming the file and the field.
final class ConfigValueTests: XCTestCase {
    private var root: String!

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "hidiff-config-values-\(UUID().uuidString)"
        let fixture = Fixtures.path("models/sd15-tiny")
        guard FileManager.default.fileExists(atPath: fixture + "/unet/config.json") else {
            throw FixtureError("sd15-tiny model fixture not present")
        }
        for dir in ["unet", "vae", "text_encoder"] {
            try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "\(fixture)/\(dir)/config.json", toPath: "\(root!)/\(dir)/config.json")
        }
        try FileManager.default.copyItem(atPath: fixture + "/model_index.json", toPath: root + "/model_index.json")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Sets `field` in `<component>/config.json` to the JSON text `value` and asserts that loading the config
    /// throws `ModelConfigError.outOfRange` naming that file and field.
    private func assertRefused(_ component: String, _ field: String, _ value: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let path = "\(root!)/\(component)/config.json"
        var json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
                                    as? [String: Any])
        json[field] = "__VALUE__"
        var text = String(decoding: try JSONSerialization.data(withJSONObject: json, options: .sortedKeys), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"__VALUE__\"", with: value)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let folder = try DiffusersFolder(path: root)
        XCTAssertThrowsError(try load(folder, component), "\(component).\(field) = \(value)", file: file, line: line) {
            guard case let .outOfRange(errorFile, errorField, _, expected)? = $0 as? ModelConfigError else {
                return XCTFail("expected ModelConfigError.outOfRange, got \($0)", file: file, line: line)
            }
            XCTAssertEqual(errorFile, path, file: file, line: line)
            XCTAssertEqual(errorField, field, file: file, line: line)
            XCTAssertFalse(expected.isEmpty, file: file, line: line)
            let message = "\($0)"
            XCTAssertTrue(message.contains(path) && message.contains(field), message, file: file, line: line)
        }
    }

    private func load(_ folder: DiffusersFolder, _ component: String) throws {
        switch component {
        case "unet": try folder.config(component, as: UNetConfig.self).validate()
        case "vae": try folder.config(component, as: VAEConfig.self).validate()
        default: try folder.config(component, as: CLIPTextConfig.self).validate()
        }
    }

    func testFixtureConfigsLoad() throws {
        let folder = try DiffusersFolder(path: root)
        for component in ["unet", "vae", "text_encoder"] { XCTAssertNoThrow(try load(folder, component)) }
    }

    // MARK: U-Net

    func testUNetZeroNormGroups() throws { try assertRefused("unet", "norm_num_groups", "0") }
    func testUNetNormGroupsNotDividingChannels() throws { try assertRefused("unet", "norm_num_groups", "3") }
    func testUNetNegativeLayersPerBlock() throws { try assertRefused("unet", "layers_per_block", "-1") }
    func testUNetNegativeLayersInList() throws { try assertRefused("unet", "layers_per_block", "[2, 2, -1, 2]") }
    func testUNetZeroTransformerLayers() throws { try assertRefused("unet", "transformer_layers_per_block", "0") }
    func testUNetZeroHeads() throws { try assertRefused("unet", "attention_head_dim", "0") }
    func testUNetZeroNormEps() throws { try assertRefused("unet", "norm_eps", "0") }
    func testUNetNegativeNormEps() throws { try assertRefused("unet", "norm_eps", "-1e-5") }
    func testUNetNaNNormEps() throws { try assertRefused("unet", "norm_eps", "NaN") }
    func testUNetZeroInChannels() throws { try assertRefused("unet", "in_channels", "0") }
    func testUNetNegativeOutChannels() throws { try assertRefused("unet", "out_channels", "-4") }
    func testUNetNegativeBlockChannels() throws { try assertRefused("unet", "block_out_channels", "[16, -32, 64, 64]") }
    func testUNetZeroCrossAttentionDim() throws { try assertRefused("unet", "cross_attention_dim", "0") }
    func testUNetHugeSampleSize() throws { try assertRefused("unet", "sample_size", "1000000") }
    func testUNetZeroSampleSize() throws { try assertRefused("unet", "sample_size", "0") }
    func testUNetNegativeKernel() throws { try assertRefused("unet", "conv_in_kernel", "-1") }
    func testUNetFreqShiftAtHalfWidth() throws { try assertRefused("unet", "freq_shift", "8") }
    func testUNetZeroMidBlockScale() throws { try assertRefused("unet", "mid_block_scale_factor", "0") }

    // MARK: VAE

    func testVAEZeroNormGroups() throws { try assertRefused("vae", "norm_num_groups", "0") }
    func testVAEZeroScalingFactor() throws { try assertRefused("vae", "scaling_factor", "0") }
    func testVAEInfiniteScalingFactor() throws { try assertRefused("vae", "scaling_factor", "Infinity") }
    func testVAENegativeLayers() throws { try assertRefused("vae", "layers_per_block", "-1") }
    func testVAEZeroLatentChannels() throws { try assertRefused("vae", "latent_channels", "0") }
    func testVAEZeroBlockChannels() throws { try assertRefused("vae", "block_out_channels", "[16, 0, 32, 32]") }
    func testVAEZeroLatentStd() throws { try assertRefused("vae", "latents_std", "[1, 0, 1, 1]") }

    // MARK: CLIP text encoder

    func testCLIPZeroHiddenSize() throws { try assertRefused("text_encoder", "hidden_size", "0") }
    func testCLIPNegativeLayers() throws { try assertRefused("text_encoder", "num_hidden_layers", "-1") }
    func testCLIPZeroIntermediateSize() throws { try assertRefused("text_encoder", "intermediate_size", "0") }
    func testCLIPZeroLayerNormEps() throws { try assertRefused("text_encoder", "layer_norm_eps", "0") }
    func testCLIPNaNLayerNormEps() throws { try assertRefused("text_encoder", "layer_norm_eps", "NaN") }
    func testCLIPHugeVocabulary() throws { try assertRefused("text_encoder", "vocab_size", "1000000000000") }
}
