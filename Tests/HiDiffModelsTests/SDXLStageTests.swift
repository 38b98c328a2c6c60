import Foundation
import HiDiffCore
import HiDiffModels
import HiDiffTestSupport
import XCTest

/// The tiny SDXL pipeline's stages against diffusers 0.29.2 / transformers 4.44.2
/// (`tools/reference/make_sdxl_fixtures.py`): both tokenizers, both text encoders' penultimate hidden states and
/// the projected pooled output, the U-Net with `text_time` added conditions, the VAE.
/// Tolerance: max abs error <= 1e-4 * max abs reference.
final class SDXLStageTests: XCTestCase {
    let tolerance: Float = 1e-4

    var folder: DiffusersFolder { get throws { try DiffusersFolder(path: Fixtures.path("models/sdxl-tiny")) } }

    func cases() throws -> [String: Any] {
        try XCTUnwrap(Fixtures.json("sdxl-tiny/cases.json") as? [String: Any])
    }

    func assertClose(_ actual: Tensor, _ expected: Tensor, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, what, file: file, line: line)
        guard actual.shape == expected.shape else { return }
        let err = relativeError(actual, expected)
        XCTAssertLessThanOrEqual(err, tolerance, "\(what): relative error \(err)", file: file, line: line)
    }

    func testTokenizersPadAsSDXLShips() throws {
        let folder = try folder
        let t1 = try CLIPTokenizer(directory: folder.componentPath("tokenizer"))
        let t2 = try CLIPTokenizer(directory: folder.componentPath("tokenizer_2"))
        XCTAssertEqual(t1.padTokenID, 49407)
        XCTAssertEqual(t2.padTokenID, 0)
        let entries = try XCTUnwrap(cases()["text_encoder"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(entries.count, 5)
        for e in entries {
            let text = e["text"] as! String
            XCTAssertEqual(try t1.encode(text), e["ids_1"] as? [Int], "tokenizer: \(text)")
            XCTAssertEqual(try t2.encode(text), e["ids_2"] as? [Int], "tokenizer_2: \(text)")
            // The bundled vocabulary with the same pad tokens is what single-file checkpoints get.
            XCTAssertEqual(try CLIPTokenizer.bundled(padToken: "<|endoftext|>").encode(text), e["ids_1"] as? [Int])
            XCTAssertEqual(try CLIPTokenizer.bundled(padToken: "!").encode(text), e["ids_2"] as? [Int])
        }
    }

    func testTextEncodersMatchTransformers() throws {
        let folder = try folder
        let te1 = try CLIPTextModel(config: folder.config("text_encoder", as: CLIPTextConfig.self),
                                    weights: folder.weights("text_encoder"))
        let te2 = try CLIPTextModel(config: folder.config("text_encoder_2", as: CLIPTextConfig.self),
                                    weights: folder.weights("text_encoder_2"))
        XCTAssertNil(te1.textProjection)
        XCTAssertNotNil(te2.textProjection)
        let ref = try SafeTensorsFile(path: Fixtures.path("sdxl-tiny/text_encoder.safetensors"))
        let entries = try XCTUnwrap(cases()["text_encoder"] as? [[String: Any]])
        for (i, e) in entries.enumerated() {
            let o1 = try te1([e["ids_1"] as! [Int]], outputHiddenStates: true)
            let o2 = try te2([e["ids_2"] as! [Int]], outputHiddenStates: true)
            assertClose(o1.hiddenStates[o1.hiddenStates.count - 2], try ref.load("\(i).te1.penultimate"), "\(i) te1 penultimate")
            assertClose(o1.lastHiddenState, try ref.load("\(i).te1.last_hidden_state"), "\(i) te1 last")
            assertClose(o1.pooledOutput, try ref.load("\(i).te1.pooled"), "\(i) te1 pooled")
            assertClose(o2.hiddenStates[o2.hiddenStates.count - 2], try ref.load("\(i).te2.penultimate"), "\(i) te2 penultimate")
            assertClose(o2.lastHiddenState, try ref.load("\(i).te2.last_hidden_state"), "\(i) te2 last")
            assertClose(try XCTUnwrap(o2.textEmbeds), try ref.load("\(i).te2.text_embeds"), "\(i) te2 text_embeds")
        }
    }

    func testUNetWithTextTimeMatchesDiffusers() throws {
        let folder = try folder
        let config = try folder.config("unet", as: UNetConfig.self)
        XCTAssertEqual(config.addition, "text_time")
        XCTAssertEqual(config.transformerLayersPerBlock, .perBlock([1, 2, 10]))
        let unet = try UNet2DConditionModel(config: config, weights: folder.weights("unet"))
        let ref = try SafeTensorsFile(path: Fixtures.path("sdxl-tiny/unet.safetensors"))
        let entries = try XCTUnwrap(cases()["unet"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 3)
        for c in entries {
            let name = c["name"] as! String
            let t = Float((c["timestep"] as! NSNumber).doubleValue)
            let added = UNetAddedConditions(textEmbeds: try ref.load("\(name).text_embeds"),
                                            timeIds: try ref.load("\(name).time_ids"))
            let out = try unet(try ref.load("\(name).sample"), timestep: t,
                               encoderHiddenStates: try ref.load("\(name).encoder_hidden_states"), added: added)
            assertClose(out, try ref.load("\(name).out"), "unet \(name)")
        }
    }

    func testVAEMatchesDiffusers() throws {
        let folder = try folder
        let config = try folder.config("vae", as: VAEConfig.self)
        XCTAssertEqual(config.scalingFactor, 0.13025)
        let vae = try AutoencoderKL(config: config, weights: folder.weights("vae"))
        let ref = try SafeTensorsFile(path: Fixtures.path("sdxl-tiny/vae.safetensors"))
        for prefix in ["decode", "decode_8x12"] {
            assertClose(try vae.decode(try ref.load("\(prefix).in")), try ref.load("\(prefix).out"), "vae \(prefix)")
        }
        let dist = try vae.encode(try ref.load("encode.in"))
        assertClose(dist.mean, try ref.load("encode.mean"), "vae encode mean")
    }
}
