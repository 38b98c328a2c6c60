import Foundation
import HiDiffCore
import HiDiffModels
import XCTest

/// Finding components, configs and weight files in a diffusers `save_pretrained` folder.
final class DiffusersFolderTests: XCTestCase {
    private var root: String!

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "hidiff-folder-\(UUID().uuidString)"
        for dir in ["unet", "text_encoder", "scheduler", "vae", "safety_checker", "tokenizer"] {
            try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
        }
        try write("model_index.json", #"""
            {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.29.2",
             "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
             "text_encoder": ["transformers", "CLIPTextModel"], "safety_checker": [null, null],
             "scheduler": ["diffusers", "PNDMScheduler"], "requires_safety_checker": false}
            """#)
        try write("unet/config.json", #"{"sample_size": 8, "block_out_channels": [32, 64], "cross_attention_dim": 16}"#)
        try write("scheduler/scheduler_config.json", #"{"num_train_timesteps": 1000, "beta_schedule": "scaled_linear"}"#)
        try SafeTensorsWriter.write([("conv_in.weight", Tensor(zeros: [4, 4, 3, 3]))],
                                    to: root + "/unet/diffusion_pytorch_model.safetensors")
        try SafeTensorsWriter.write([("text_model.final_layer_norm.weight", Tensor(repeating: 1, shape: [16]))],
                                    to: root + "/text_encoder/model.fp16.safetensors")
        // A sharded VAE: two files and an index.
        try SafeTensorsWriter.write([("encoder.conv_in.weight", Tensor(zeros: [8, 3, 3, 3]))],
                                    to: root + "/vae/diffusion_pytorch_model-00001-of-00002.safetensors")
        try SafeTensorsWriter.write([("decoder.conv_out.bias", Tensor(zeros: [3]))],
                                    to: root + "/vae/diffusion_pytorch_model-00002-of-00002.safetensors")
        try write("vae/diffusion_pytorch_model.safetensors.index.json", #"""
            {"metadata": {"total_size": 876}, "weight_map": {
              "encoder.conv_in.weight": "diffusion_pytorch_model-00001-of-00002.safetensors",
              "decoder.conv_out.bias": "diffusion_pytorch_model-00002-of-00002.safetensors"}}
            """#)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    private func write(_ relative: String, _ text: String) throws {
        try text.write(toFile: root + "/" + relative, atomically: true, encoding: .utf8)
    }

    private struct UNetConfigStub: Decodable {
        var sampleSize: Int
        var blockOutChannels: [Int]
        var crossAttentionDim: Int
        enum CodingKeys: String, CodingKey {
            case sampleSize = "sample_size", blockOutChannels = "block_out_channels"
            case crossAttentionDim = "cross_attention_dim"
        }
    }

    func testModelIndexAndConfigs() throws {
        let folder = try DiffusersFolder(path: root)
        XCTAssertEqual(folder.className, "StableDiffusionPipeline")
        XCTAssertEqual(folder.components["unet"], .init(library: "diffusers", className: "UNet2DConditionModel"))
        XCTAssertEqual(folder.components["safety_checker"], .init(library: nil, className: nil))
        XCTAssertNil(folder.components["requires_safety_checker"], "flags are not components")
        XCTAssertEqual(folder.componentPath("unet"), root + "/unet")

        let config = try folder.config("unet", as: UNetConfigStub.self)
        XCTAssertEqual(config.blockOutChannels, [32, 64])
        XCTAssertEqual(config.crossAttentionDim, 16)
        // Schedulers keep their config in scheduler_config.json.
        let scheduler = try folder.config("scheduler", as: [String: AnyDecodable].self)
        XCTAssertEqual(scheduler.count, 2)
    }

    func testConfigErrorsNameFileAndField() throws {
        let folder = try DiffusersFolder(path: root)
        try write("unet/config.json", #"{"sample_size": "eight", "block_out_channels": [32], "cross_attention_dim": 16}"#)
        XCTAssertThrowsError(try folder.config("unet", as: UNetConfigStub.self)) { error in
            XCTAssertEqual(error as? WeightError, .badConfig(file: root + "/unet/config.json",
                                                            reason: "field 'sample_size' is not of type Int"))
        }
        try write("unet/config.json", #"{"sample_size": 8, "block_out_channels": [32]}"#)
        XCTAssertThrowsError(try folder.config("unet", as: UNetConfigStub.self)) { error in
            XCTAssertEqual("\(error)", "invalid config \(root!)/unet/config.json: missing field 'cross_attention_dim' at the top level")
        }
        XCTAssertThrowsError(try folder.config("vae", as: UNetConfigStub.self)) { error in
            XCTAssertEqual(error as? WeightError, .fileNotFound(path: root + "/vae/config.json"))
        }
    }

    func testWeightsLookup() throws {
        let folder = try DiffusersFolder(path: root)
        XCTAssertEqual(try folder.weightsFile("unet"), root + "/unet/diffusion_pytorch_model.safetensors")
        XCTAssertEqual(try folder.weights("unet")("conv_in.weight", shape: [4, 4, 3, 3]).shape, [4, 4, 3, 3])

        // Only the fp16 variant is present: found without asking; F32 data read back either way.
        XCTAssertEqual(try folder.weightsFile("text_encoder"), root + "/text_encoder/model.fp16.safetensors")
        XCTAssertEqual(try folder.weightsFile("text_encoder", variant: "fp16"), root + "/text_encoder/model.fp16.safetensors")
        XCTAssertEqual(try folder.weights("text_encoder").scoped("text_model.final_layer_norm")("weight", shape: [16]).data,
                       [Float](repeating: 1, count: 16))
        XCTAssertThrowsError(try folder.weightsFile("unet", variant: "fp16"), "an explicit variant does not fall back")

        let vae = try folder.weights("vae")
        XCTAssertEqual(Set(vae.names), ["encoder.conv_in.weight", "decoder.conv_out.bias"])
        XCTAssertEqual(try vae("decoder.conv_out.bias", shape: [3]).shape, [3])
        XCTAssertThrowsError(try vae("decoder.conv_out.bias", shape: [4])) { error in
            XCTAssertEqual(error as? WeightError, .shapeMismatch(
                name: "decoder.conv_out.bias", expected: [4], found: [3],
                file: root + "/vae/diffusion_pytorch_model-00002-of-00002.safetensors"))
        }
    }

    func testShardIndexNamingATensorItsShardLacks() throws {
        try write("vae/diffusion_pytorch_model.safetensors.index.json", #"""
            {"weight_map": {"decoder.conv_out.weight": "diffusion_pytorch_model-00002-of-00002.safetensors"}}
            """#)
        XCTAssertThrowsError(try DiffusersFolder(path: root).weights("vae")) { error in
            XCTAssertEqual(error as? WeightError, .missing(
                name: "decoder.conv_out.weight", file: root + "/vae/diffusion_pytorch_model-00002-of-00002.safetensors"))
        }
    }

    func testMissingWeightsAndFolders() throws {
        let folder = try DiffusersFolder(path: root)
        try Data([0]).write(to: URL(fileURLWithPath: root + "/safety_checker/pytorch_model.bin"))
        XCTAssertThrowsError(try folder.weights("safety_checker")) { error in
            guard case let .noWeightsFile(component, directory, tried, hint)? = error as? WeightError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(component, "safety_checker")
            XCTAssertEqual(directory, root + "/safety_checker")
            XCTAssertEqual(tried.first, "diffusion_pytorch_model.safetensors")
            XCTAssertTrue(tried.contains("model.fp16.safetensors"))
            XCTAssertTrue(hint?.contains("pytorch_model.bin") ?? false)
            XCTAssertTrue("\(error)".hasPrefix("no weights for component 'safety_checker' in \(root!)/safety_checker (looked for "), "\(error)")
        }
        XCTAssertThrowsError(try folder.weights("controlnet")) { error in
            XCTAssertTrue("\(error)".contains("the component folder does not exist"), "\(error)")
        }
        XCTAssertThrowsError(try DiffusersFolder(path: root + "/unet")) { error in
            XCTAssertEqual(error as? WeightError, .notDiffusersFolder(path: root + "/unet"))
        }
        XCTAssertThrowsError(try DiffusersFolder(path: root + "/nowhere")) { error in
            XCTAssertEqual(error as? WeightError, .fileNotFound(path: root + "/nowhere"))
        }
        try write("model_index.json", "[1]")
        XCTAssertThrowsError(try DiffusersFolder(path: root)) { error in
            XCTAssertEqual(error as? WeightError, .badConfig(file: root + "/model_index.json",
                                                            reason: "the top level is not a JSON object"))
        }
    }
}

/// Decodes and discards any JSON value (to count keys of a config without a schema).
private struct AnyDecodable: Decodable {
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if (try? c.decode(Double.self)) != nil || (try? c.decode(String.self)) != nil { return }
    }
}
