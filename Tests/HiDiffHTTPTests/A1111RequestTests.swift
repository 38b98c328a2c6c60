import Foundation
import HiDiffHTTP
import HiDiffPipeline
import HiDiffSchedulers
import XCTest

/// AUTOMATIC1111 JSON → cluster submission, with no server: names, defaults, nulls, unknown fields, types.
final class A1111RequestTests: XCTestCase {
    func parse(_ json: String, img2img: Bool = false) throws -> A1111Request {
        try A1111Request(json: Data(json.utf8), img2img: img2img, maxImages: 100)
    }

    /// The status and field of the APIError `body` throws.
    func refusal(_ json: String, img2img: Bool = false, file: StaticString = #filePath, line: UInt = #line) -> (Int, String?, String) {
        do {
            let request = try parse(json, img2img: img2img)
            _ = try request.submission(model: "shapes", baseSeed: 1)
            XCTFail("accepted: \(json)", file: file, line: line)
            return (0, nil, "")
        } catch let error as APIError {
            return (error.status.code, error.field, error.message)
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return (0, nil, "")
        }
    }

    func testSamplerNamesAndAliasesInAnyCase() throws {
        let cases: [(String, SchedulerKind, Bool)] = [
            ("Euler a", .eulerAncestral, false), ("euler A", .eulerAncestral, false), ("k_euler_a", .eulerAncestral, false),
            ("EULER", .euler, false), ("k_euler", .euler, false), ("ddim", .ddim, false), ("DDIM", .ddim, false),
            ("PNDM", .pndm, false), ("plms", .pndm, false), ("DPM++ 2M", .dpmSolverMultistep, false),
            ("dpm++  2m", .dpmSolverMultistep, false), ("k_dpmpp_2m", .dpmSolverMultistep, false),
            ("DPM++ 2M Karras", .dpmSolverMultistep, true),
        ]
        for (name, kind, karras) in cases {
            let r = try parse(#"{"prompt": "a red circle", "seed": 3, "sampler_name": "\#(name)"}"#)
            let requests = try r.submission(model: "shapes", baseSeed: 3).requests()
            XCTAssertEqual(requests.first?.scheduler, kind, name)
            XCTAssertEqual(requests.first?.karras, karras, name)
        }
        // The legacy field name.
        XCTAssertEqual(try parse(#"{"prompt": "x", "sampler_index": "Euler"}"#).sampler?.kind, .euler)
        let (status, field, message) = refusal(#"{"prompt": "x", "sampler_name": "Heun"}"#)
        XCTAssertEqual(status, 422)
        XCTAssertEqual(field, "sampler_name")
        XCTAssertTrue(message.contains("\"Euler a\""), message)
        XCTAssertEqual(A1111Sampler.listed.map(\.name), ["Euler a", "Euler", "DDIM", "PNDM", "DPM++ 2M"])
    }

    func testSchedulerAutomaticAndKarrasInAnyCase() throws {
        XCTAssertEqual(try parse(#"{"prompt": "x", "sampler_name": "Euler", "scheduler": "Karras"}"#).karras, true)
        XCTAssertEqual(try parse(#"{"prompt": "x", "sampler_name": "DPM++ 2M", "scheduler": "KARRAS"}"#).karras, true)
        XCTAssertEqual(try parse(#"{"prompt": "x", "sampler_name": "Euler", "scheduler": "Automatic"}"#).karras, false)
        XCTAssertEqual(try parse(#"{"prompt": "x", "sampler_name": "DPM++ 2M Karras", "scheduler": "automatic"}"#).karras, true)
        var r = refusal(#"{"prompt": "x", "sampler_name": "DDIM", "scheduler": "karras"}"#)
        XCTAssertEqual(r.0, 422); XCTAssertEqual(r.1, "scheduler")
        r = refusal(#"{"prompt": "x", "sampler_name": "Euler", "scheduler": "exponential"}"#)
        XCTAssertEqual(r.0, 422); XCTAssertEqual(r.1, "scheduler"); XCTAssertTrue(r.2.contains("\"automatic\" or \"karras\""), r.2)
        r = refusal(#"{"prompt": "x", "scheduler": "karras"}"#)
        XCTAssertEqual(r.1, "scheduler")
    }

    func testSeedsDefaultsAndBatches() throws {
        let random = try parse(#"{"prompt": "x", "seed": -1, "batch_size": 2, "n_iter": 3}"#)
        XCTAssertEqual(random.seed, .random)
        XCTAssertEqual(random.imageCount, 6)
        let fixed = try parse(#"{"prompt": "x", "seed": 42, "batch_size": 2, "n_iter": 2}"#)
        XCTAssertEqual(fixed.seed, .fixed(42))
        let requests = try fixed.submission(model: "shapes", baseSeed: 42).requests()
        XCTAssertEqual(requests.map(\.seed), [42, 43, 44, 45], "A1111 numbers a batch's seeds from the seed up")
        XCTAssertEqual(Set(requests.map(\.prompt)), ["x"])
        XCTAssertEqual(try parse(#"{"prompt": "x", "seed": 18446744073709551615}"#).seed, .fixed(UInt64.max))
        XCTAssertEqual(refusal(#"{"prompt": "x", "seed": -2}"#).1, "seed")
        XCTAssertEqual(refusal(#"{"prompt": "x", "batch_size": 0}"#).1, "batch_size")
        XCTAssertEqual(refusal(#"{"prompt": "x", "batch_size": 20, "n_iter": 20}"#).1, "batch_size")
    }

    func testNullsTakeDefaultsAndUnknownFieldsAreIgnored() throws {
        let r = try parse("""
            {"prompt": "a red circle", "negative_prompt": null, "steps": null, "cfg_scale": null, "width": null,
             "height": null, "seed": null, "sampler_name": null, "scheduler": null, "eta": null, "batch_size": null,
             "n_iter": null, "override_settings": null, "send_images": null, "restore_faces": false, "tiling": false,
             "styles": [], "subseed": -1, "subseed_strength": 0, "enable_hr": false, "hr_scale": 2,
             "alwayson_scripts": {}, "script_args": [], "do_not_save_samples": true, "comments": {"a": 1}}
            """)
        XCTAssertEqual(r.steps, 20)
        XCTAssertEqual(r.cfgScale, 7.0)
        XCTAssertNil(r.width)
        XCTAssertEqual(r.seed, .random)
        XCTAssertNil(r.sampler)
        XCTAssertEqual(r.imageCount, 1)
        XCTAssertTrue(r.sendImages)
        let request = try XCTUnwrap(try r.submission(model: "shapes", baseSeed: 7).requests().first)
        XCTAssertEqual(request.steps, 20)
        XCTAssertEqual(request.guidanceScale, 7.0)
        XCTAssertNil(request.scheduler, "no sampler: the model's own scheduler")
        XCTAssertEqual(request.negativePrompt, "")
    }

    func testFieldsMapOntoTheGenerationRequest() throws {
        let r = try parse("""
            {"prompt": "a blue square", "negative_prompt": "blur", "steps": 6, "cfg_scale": 6.5, "width": 64,
             "height": 128, "seed": 9, "sampler_name": "DDIM", "eta": 0,
             "override_settings": {"sd_model_checkpoint": "shapes.safetensors [0123abcd]"}}
            """)
        XCTAssertEqual(r.model, "shapes")
        let submission = try r.submission(model: r.model!, baseSeed: 9)
        XCTAssertEqual(submission.model, "shapes")
        let request = try XCTUnwrap(submission.requests().first)
        var expected = GenerationRequest(prompt: "a blue square", negativePrompt: "blur", width: 64, height: 128, steps: 6,
                                         guidanceScale: 6.5, seed: 9, scheduler: .ddim)
        expected.strength = request.strength
        XCTAssertEqual(request, expected)
        XCTAssertNil(submission.initImage)
        XCTAssertEqual(A1111Request.modelName("sd15 [abc]"), "sd15")
        XCTAssertEqual(A1111Request.modelName("v1-5-pruned.ckpt"), "v1-5-pruned")
    }

    func testWrongTypesAre422NamingTheField() {
        let cases: [(String, String)] = [
            (#"{"prompt": 5}"#, "prompt"),
            (#"{"prompt": "x", "steps": "20"}"#, "steps"),
            (#"{"prompt": "x", "steps": 2.5}"#, "steps"),
            (#"{"prompt": "x", "cfg_scale": true}"#, "cfg_scale"),
            (#"{"prompt": "x", "width": [64]}"#, "width"),
            (#"{"prompt": "x", "seed": "42"}"#, "seed"),
            (#"{"prompt": "x", "sampler_name": 1}"#, "sampler_name"),
            (#"{"prompt": "x", "batch_size": 1.5}"#, "batch_size"),
            (#"{"prompt": "x", "send_images": "yes"}"#, "send_images"),
            (#"{"prompt": "x", "override_settings": "shapes"}"#, "override_settings"),
            (#"{"prompt": "x", "override_settings": {"sd_model_checkpoint": 3}}"#, "override_settings.sd_model_checkpoint"),
            (#"{"prompt": "x", "eta": "0"}"#, "eta"),
        ]
        for (json, field) in cases {
            let (status, got, message) = refusal(json)
            XCTAssertEqual(status, 422, json)
            XCTAssertEqual(got, field, json)
            XCTAssertTrue(message.hasPrefix(field + " must be"), message)
        }
        let (status, field, _) = refusal(#"{"prompt": "x", "init_images": "abc"}"#, img2img: true)
        XCTAssertEqual(status, 422)
        XCTAssertEqual(field, "init_images")
        XCTAssertEqual(refusal(#"{"prompt": "x", "init_images": [1]}"#, img2img: true).1, "init_images.0")
    }

    func testMalformedJSONIs400() {
        // (Foundation's decoder forgives a trailing comma, so that is not among them.)
        for body in ["{\"prompt\": ", "not json", "", "{\"prompt\": \"x\" \"steps\": 2}", "{'prompt': 'x'}"] {
            XCTAssertEqual(refusal(body).0, 400, body)
        }
        XCTAssertEqual(refusal("[1, 2]").0, 422)
    }

    func testTheCLIRulesApplyUnderA1111Names() {
        let cases: [(String, String, String)] = [
            (#"{"prompt": "x", "steps": 0}"#, "steps", "must be from 1 to 1000 (got 0)"),
            (#"{"prompt": "x", "cfg_scale": 1e300}"#, "cfg_scale", "must be a finite number"),
            (#"{"prompt": "x", "width": 100}"#, "width", "must be a positive multiple of 8"),
            (#"{"prompt": ""}"#, "prompt", "is empty"),
            (#"{}"#, "prompt", "is empty"),
        ]
        for (json, field, reason) in cases {
            let (status, got, message) = refusal(json)
            XCTAssertEqual(status, 422, json)
            XCTAssertEqual(got, field, json)
            XCTAssertTrue(message.contains(reason), message)
        }
    }

    func testImg2imgFields() throws {
        XCTAssertEqual(refusal(#"{"prompt": "x"}"#, img2img: true).1, "init_images")
        XCTAssertEqual(refusal(#"{"prompt": "x", "init_images": ["%%%"]}"#, img2img: true).1, "init_images.0")
        // Not a PNG: the submission's init image rule, under A1111's name.
        let notPNG = Data("hello".utf8).base64EncodedString()
        let r = refusal(#"{"prompt": "x", "init_images": ["data:image/png;base64,\#(notPNG)"]}"#, img2img: true)
        XCTAssertEqual(r.0, 422)
        XCTAssertEqual(r.1, "init_images")
        let parsed = try parse(#"{"prompt": "x", "init_images": ["\#(notPNG)"], "denoising_strength": 0.4}"#, img2img: true)
        XCTAssertEqual(parsed.initImages, [Array("hello".utf8)])
        XCTAssertEqual(parsed.denoisingStrength, 0.4)
        XCTAssertEqual(refusal(#"{"prompt": "x", "sampler_name": "DDIM", "eta": 0.5}"#).1, "eta")
        XCTAssertEqual(refusal(#"{"prompt": "x", "sampler_name": "Euler a", "eta": 0}"#).1, "eta")
        XCTAssertEqual(try parse(#"{"prompt": "x", "sampler_name": "Euler", "eta": 0.7}"#).sampler?.kind, .euler, "eta is ignored where the sampler uses none")
    }
}
