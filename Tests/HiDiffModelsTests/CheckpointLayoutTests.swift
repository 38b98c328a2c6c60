import Foundation
import HiDiffCore
import HiDiffModels
import HiDiffTestSupport
import XCTest

/// Single-file checkpoints in the original Stable Diffusion layout: layout detection, configs derived from the
/// tensors of the released SD 1.5 / SD 2.1 / SDXL files against what diffusers derives from their original .yaml
/// configs, the diffusers names every tensor maps to, and the errors for files that cannot be used.
///
/// The released layouts come from `tools/reference/make_single_file.py` (`single-file/layouts.json`: names,
/// shapes and dtypes only); each is written here as a sparse file of the real size (2.1 to 6.9 GB) that is never
/// read, which also shows that opening a checkpoint and deriving its configs touches only the header.
final class CheckpointLayoutTests: XCTestCase {
    static let layouts: [String: [String: Any]] = {
        (try? Fixtures.json("single-file/layouts.json") as? [String: [String: Any]]) ?? [:]
    }()

    /// A safetensors file with the header of `tensors` and a sparse, zero data section of the right size.
    static func writeSparse(_ tensors: [[String: Any]], to path: String) throws {
        var header: [String: Any] = [:]
        var offset = 0
        for t in tensors {
            let shape = t["shape"] as! [Int]
            let dtype = t["dtype"] as! String
            let size = shape.reduce(1, *) * ["F16": 2, "F32": 4, "I64": 8][dtype]!
            header[t["name"] as! String] = ["dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]]
            offset += size
        }
        var json = try JSONSerialization.data(withJSONObject: header)
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: data), path)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: UInt64(data.count + offset))
        try handle.close()
    }

    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hidiff-ckpt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func testReleasedSD15Layout() throws { try assertReleasedLayout("sd15", .sd1) }
    func testReleasedSD21Layout() throws { try assertReleasedLayout("sd21", .sd2) }
    func testReleasedSDXLLayout() throws { try assertReleasedLayout("sdxl", .sdxl) }

    private func assertReleasedLayout(_ name: String, _ layout: CheckpointLayout) throws {
        let entry = try XCTUnwrap(Self.layouts[name], "single-file/layouts.json has no \(name)")
        let path = try temporaryDirectory() + "/\(name).safetensors"
        try Self.writeSparse(entry["tensors"] as! [[String: Any]], to: path)
        let before = ProcessStats.peakResidentBytes() ?? 0
        let checkpoint = try SingleFileCheckpoint(path: path)
        XCTAssertEqual(checkpoint.layout, layout)
        XCTAssertEqual(checkpoint.unetLayersPerBlock, 2)

        // Every diffusers tensor of the released model is exposed with its shape; nothing else but what the
        // released file carries and diffusers drops (SD 2's last OpenCLIP block and projection, position ids).
        let expectedShapes = entry["diffusers_shapes"] as! [String: [String: [Int]]]
        for component in checkpoint.components {
            let expected = try XCTUnwrap(expectedShapes[component.rawValue], "\(name) \(component)")
            let source = try XCTUnwrap(checkpoint.source(component))
            for (tensor, shape) in expected {
                XCTAssertEqual(source.shape(of: tensor), shape, "\(name) \(component.rawValue) \(tensor)")
            }
            let extra = Set(source.names).subtracting(expected.keys).filter {
                !$0.hasSuffix("position_ids") && !(layout == .sd2 && ($0.hasPrefix("text_model.encoder.layers.23.")
                                                                      || $0 == "text_projection.weight"))
            }
            XCTAssertEqual(extra, [], "\(name) \(component.rawValue): unexpected exposed tensors")
        }

        // Configs from shapes and conventions against diffusers' create_*_diffusers_config_from_ldm.
        let configs = try checkpoint.derivedConfigs()
        let expected = entry["expected_configs"] as! [String: [String: Any]]
        let u = expected["unet"]!, unet = configs.unet
        XCTAssertEqual(unet.sampleSize, u["sample_size"] as? Int, name)
        XCTAssertEqual(unet.inChannels, u["in_channels"] as? Int, name)
        XCTAssertEqual(unet.outChannels, u["out_channels"] as? Int, name)
        XCTAssertEqual(unet.blockOutChannels, u["block_out_channels"] as? [Int], name)
        XCTAssertEqual(unet.layersPerBlock, .uniform(u["layers_per_block"] as! Int), name)
        XCTAssertEqual(unet.downBlockTypes, u["down_block_types"] as? [String], name)
        XCTAssertEqual(unet.upBlockTypes, u["up_block_types"] as? [String], name)
        XCTAssertEqual(unet.crossAttentionDim, .uniform(u["cross_attention_dim"] as! Int), name)
        XCTAssertEqual(unet.attentionHeadDim, Self.perBlock(u["attention_head_dim"]), name)
        XCTAssertEqual(unet.transformerLayersPerBlock, Self.perBlock(u["transformer_layers_per_block"]), name)
        XCTAssertEqual(unet.useLinearProjection, u["use_linear_projection"] as? Bool, name)
        XCTAssertEqual(unet.addition, u["addition_embed_type"] as? String, name)
        XCTAssertEqual(unet.additionTimeEmbedDim, u["addition_time_embed_dim"] as? Int, name)
        XCTAssertEqual(unet.projectionClassEmbeddingsInputDim, u["projection_class_embeddings_input_dim"] as? Int, name)
        XCTAssertNoThrow(try unet.validate())
        let v = expected["vae"]!, vae = configs.vae
        XCTAssertEqual(vae.blockOutChannels, v["block_out_channels"] as? [Int], name)
        XCTAssertEqual(vae.layersPerBlock, v["layers_per_block"] as? Int, name)
        XCTAssertEqual(vae.latentChannels, v["latent_channels"] as? Int, name)
        XCTAssertEqual(vae.sampleSize, v["sample_size"] as? Int, name)
        XCTAssertEqual(Double(vae.scalingFactor), v["scaling_factor"] as! Double, accuracy: 1e-7, name)
        for (component, config) in [("text_encoder", configs.textEncoder), ("text_encoder_2", configs.textEncoder2)] {
            guard let t = expected[component] else { XCTAssertNil(config, "\(name) \(component)"); continue }
            let c = try XCTUnwrap(config, "\(name) \(component)")
            XCTAssertEqual(c.hiddenSize, t["hidden_size"] as? Int, "\(name) \(component)")
            XCTAssertEqual(c.intermediateSize, t["intermediate_size"] as? Int, "\(name) \(component)")
            XCTAssertEqual(c.numHiddenLayers, t["num_hidden_layers"] as? Int, "\(name) \(component)")
            XCTAssertEqual(c.numAttentionHeads, t["num_attention_heads"] as? Int, "\(name) \(component)")
            XCTAssertEqual(c.hiddenAct.rawValue, t["hidden_act"] as? String, "\(name) \(component)")
            XCTAssertEqual(c.vocabSize, 49408)
            XCTAssertEqual(c.eosTokenID, 2)
            if component == "text_encoder_2" {
                XCTAssertTrue(c.hasProjection)
                XCTAssertEqual(c.projectionDim, t["projection_dim"] as? Int, "\(name) \(component)")
            }
        }
        // Nothing above read tensor data: the multi-gigabyte mapping stayed untouched.
        let after = ProcessStats.peakResidentBytes() ?? 0
        XCTAssertLessThan(after - before, 512 << 20, "\(name): opening and deriving configs grew the peak RSS by \(after - before) bytes")
    }

    static func perBlock(_ value: Any?) -> PerBlockValue<Int>? {
        if let v = value as? Int { return .uniform(v) }
        if let v = value as? [Int] { return .perBlock(v) }
        return nil
    }

    func testUnknownLayoutListsWhatWasFound() throws {
        let path = try temporaryDirectory() + "/lora.safetensors"
        try SafeTensorsWriter.write([("lora_unet_down_blocks_0_attentions_0.alpha", Tensor(zeros: [1])),
                                     ("lora_unet_down_blocks_0_attentions_0.lora_down.weight", Tensor(zeros: [4, 8])),
                                     ("first_stage_model.encoder.conv_in.weight", Tensor(zeros: [2, 3, 3, 3]))],
                                    to: path)
        XCTAssertThrowsError(try SingleFileCheckpoint(path: path)) { error in
            guard case let CheckpointError.unknownLayout(file, prefixes, examples)? = error as? CheckpointError else {
                return XCTFail("expected unknownLayout, got \(error)")
            }
            XCTAssertEqual(file, path)
            // Equal counts: alphabetical.
            XCTAssertEqual(prefixes, ["first_stage_model.encoder (1)",
                                      "lora_unet_down_blocks_0_attentions_0.alpha (1)",
                                      "lora_unet_down_blocks_0_attentions_0.lora_down (1)"])
            XCTAssertEqual(examples.count, 3)
            let text = "\(error)"
            XCTAssertTrue(text.contains("lora_unet_down_blocks_0_attentions_0.lora_down (1)"), text)
            XCTAssertTrue(text.contains("model.diffusion_model"), text)
        }
    }

    func testUNetAndVAEWithoutTextEncoderIsAnUnknownLayout() throws {
        let path = try temporaryDirectory() + "/unet-only.safetensors"
        try SafeTensorsWriter.write([("model.diffusion_model.input_blocks.0.0.weight", Tensor(zeros: [4, 4, 3, 3])),
                                     ("first_stage_model.decoder.conv_in.weight", Tensor(zeros: [4, 4, 3, 3]))],
                                    to: path)
        XCTAssertThrowsError(try SingleFileCheckpoint(path: path)) { error in
            XCTAssertTrue("\(error)".contains("Found prefixes: first_stage_model.decoder (1), model.diffusion_model (1)"), "\(error)")
        }
    }

    func testTruncatedFileIsReported() throws {
        let data = try Data(contentsOf: Fixtures.url("single-file/sdxl-tiny.safetensors"))
        let path = try temporaryDirectory() + "/partial.safetensors"
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SingleFileCheckpoint(path: path)) { error in
            guard case WeightError.truncated(let file, _)? = error as? WeightError else {
                return XCTFail("expected WeightError.truncated, got \(error)")
            }
            XCTAssertEqual(file, path)
        }
    }

    func testTinyModelsBreakTheConventionsAndSayHow() throws {
        // The tiny SDXL has 8/16/24 channels and 8-wide heads: no released convention fits, so deriving fails
        // with an error that names the field and the way out.
        let checkpoint = try SingleFileCheckpoint(path: Fixtures.path("single-file/sdxl-tiny.safetensors"))
        XCTAssertEqual(checkpoint.layout, .sdxl)
        XCTAssertThrowsError(try checkpoint.derivedConfigs()) { error in
            guard case CheckpointError.cannotDerive(_, let field, _)? = error as? CheckpointError else {
                return XCTFail("expected cannotDerive, got \(error)")
            }
            XCTAssertEqual(field, "attention_head_dim")
            XCTAssertTrue("\(error)".contains("--model-config"), "\(error)")
        }
    }

    func testRecipes() throws {
        let fused = Tensor(shape: [6, 2], data: (0..<12).map(Float.init))
        let k = TensorRecipe("x", .rowBlock(index: 1, count: 3))
        XCTAssertEqual(k.shape(from: [6, 2]), [2, 2])
        XCTAssertEqual(k.apply(fused).data, [4, 5, 6, 7])
        XCTAssertNil(k.shape(from: [7, 2]))
        let t = TensorRecipe("x", .transpose)
        XCTAssertEqual(t.apply(Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])).data, [1, 4, 2, 5, 3, 6])
        let s = TensorRecipe("x", .squeezeTrailingOnes)
        XCTAssertEqual(s.shape(from: [8, 4, 1, 1]), [8, 4])
        XCTAssertNil(s.shape(from: [8, 4, 3, 3]))
    }
}
