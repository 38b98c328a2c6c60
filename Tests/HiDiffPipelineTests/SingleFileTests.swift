import Foundation
import HiDiffCore
import HiDiffModels
import HiDiffPipeline
import HiDiffSchedulers
import HiDiffTestSupport
import XCTest

/// Single-file checkpoints (original Stable Diffusion layout) against the diffusers folders they were exported from
/// by `tools/reference/make_single_file.py` (whose export diffusers' own `from_single_file` loads back exactly):
/// every tensor read through the single-file mapping equals the folder's, and the pipelines built both ways give
/// identical generations.
///
/// The SDXL export is committed (F16). The SD 1.5 / 2.1 exports (8 MB each) are rebuilt here from the committed
/// folders following the script's manifest (`<model>.layout.json`: file order, names, shapes, sources), and each
/// tensor is checked against the CRC-32 the script recorded for what it wrote, so the file under test has the
/// content of the verified export (in F32).
final class SingleFileTests: XCTestCase {
    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hidiff-single-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    static func crc32(_ t: Tensor) -> UInt32 {
        var table = [UInt32](repeating: 0, count: 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            table[n] = c
        }
        var c: UInt32 = 0xFFFF_FFFF
        for v in t.data {
            var bits = v.bitPattern.littleEndian
            withUnsafeBytes(of: &bits) { for b in $0 { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) } }
        }
        return c ^ 0xFFFF_FFFF
    }

    /// The export of `model` rebuilt from its folder and manifest (F32; integer buffers left out).
    func rebuild(_ model: String) throws -> String {
        let manifest = try XCTUnwrap(Fixtures.json("single-file/\(model).layout.json") as? [String: Any])
        let entries = try XCTUnwrap(manifest["tensors"] as? [[String: Any]])
        let folder = try DiffusersFolder(path: Fixtures.path("models/\(model)"))
        var sources: [String: Weights] = [:]
        let extrasPath = Fixtures.path("single-file/\(model).extras.safetensors")
        let extras = FileManager.default.fileExists(atPath: extrasPath) ? try SafeTensorsFile(path: extrasPath) : nil
        var tensors: [(String, Tensor)] = []
        for e in entries {
            let name = e["name"] as! String, from = e["from"] as! [String: Any]
            let op = from["op"] as! String, names = from["tensors"] as! [String]
            if op == "buffer" { continue }
            let component = from["component"] as! String
            if sources[component] == nil { sources[component] = try folder.weights(component) }
            let w = sources[component]!
            func load(_ n: String) throws -> Tensor { try w(n, shape: try XCTUnwrap(w.shape(of: n), n)) }
            let t: Tensor
            switch op {
            case "copy": t = try load(names[0])
            case "transpose": t = try load(names[0]).permuted([1, 0])
            case "unsqueeze": t = try load(names[0]).reshaped(e["shape"] as! [Int])
            case "fuse_qkv": t = Tensor.concat(try names.map(load), axis: 0)
            case "extra": t = try XCTUnwrap(extras).load(name)
            default: throw FixtureError("unknown manifest op \(op)")
            }
            XCTAssertEqual(t.shape, e["shape"] as? [Int], name)
            XCTAssertEqual(Self.crc32(t), (e["crc32"] as! NSNumber).uint32Value, "\(name): not what the export wrote")
            tensors.append((name, t))
        }
        let path = try temporaryDirectory() + "/\(model).safetensors"
        try SafeTensorsWriter.write(tensors, to: path)
        return path
    }

    func testSD15FileMatchesFolder() throws {
        try assertSameAsFolder(file: rebuild("sd15-tiny"), model: "sd15-tiny", layout: .sd1, family: .sd)
    }

    func testSD21FileMatchesFolder() throws {
        try assertSameAsFolder(file: rebuild("sd21-tiny"), model: "sd21-tiny", layout: .sd2, family: .sd)
    }

    func testSDXLFileMatchesFolder() throws {
        let file = Fixtures.path("single-file/sdxl-tiny.safetensors")
        let raw = try SafeTensorsFile(path: file)
        XCTAssertTrue(raw.names.filter { !$0.hasSuffix("position_ids") }.allSatisfy { raw.dtype(of: $0) == .f16 },
                      "the committed SDXL export is all F16")
        try assertSameAsFolder(file: file, model: "sdxl-tiny", layout: .sdxl, family: .sdxl)
    }

    func testConfigsOnlyFolderAndBundledTokenizers() throws {
        // A config folder need not hold weights or tokenizers: configs only, tokenizers from the bundled vocabulary.
        let dir = try temporaryDirectory()
        let source = Fixtures.path("models/sdxl-tiny")
        let fm = FileManager.default
        try fm.copyItem(atPath: source + "/model_index.json", toPath: dir + "/model_index.json")
        for component in ["unet", "vae", "text_encoder", "text_encoder_2", "scheduler"] {
            try fm.createDirectory(atPath: dir + "/" + component, withIntermediateDirectories: false)
            let file = component == "scheduler" ? "scheduler_config.json" : "config.json"
            try fm.copyItem(atPath: "\(source)/\(component)/\(file)", toPath: "\(dir)/\(component)/\(file)")
        }
        let single = try StableDiffusionPipeline(path: Fixtures.path("single-file/sdxl-tiny.safetensors"), configFolder: dir)
        let reference = try StableDiffusionPipeline(path: source)
        XCTAssertEqual(single.tokenizer.padTokenID, 49407)
        XCTAssertEqual(single.tokenizer2?.padTokenID, 0)
        let request = GenerationRequest(prompt: "hello!world, a cat", negativePrompt: "", width: 64, height: 64, steps: 2,
                                        guidanceScale: 5, seed: 3, prompt2: "oil painting!!")
        XCTAssertEqual(try single.denoise(request).maxAbsDifference(try reference.denoise(request)), 0)
    }

    func testTurboIsRecognisedByFileName() throws {
        let dir = try temporaryDirectory()
        let link = dir + "/my-sdxl-turbo.safetensors"
        try FileManager.default.createSymbolicLink(atPath: link,
                                                   withDestinationPath: Fixtures.path("single-file/sdxl-tiny.safetensors"))
        let turbo = try StableDiffusionPipeline(path: link, configFolder: Fixtures.path("models/sdxl-turbo-tiny"))
        XCTAssertEqual(turbo.family, .sdxlTurbo)
        XCTAssertEqual(try turbo.schedulerConfig.defaultKind(), .eulerAncestral)
        // A Turbo generation from the single file reproduces diffusers' run on the folder.
        let cases = try XCTUnwrap(Fixtures.json("sdxl-turbo-tiny/cases.json") as? [String: Any])
        let run = try XCTUnwrap((cases["runs"] as? [[String: Any]])?.first { $0["name"] as? String == "turbo_4steps" })
        let latents = try turbo.denoise(GenerationRequest(prompt: run["prompt"] as! String, width: 64, height: 64,
                                                          steps: 4, guidanceScale: 0, seed: UInt64(run["seed"] as! Int)))
        let ref = try SafeTensorsFile(path: Fixtures.path("sdxl-turbo-tiny/runs.safetensors")).load("turbo_4steps.latents")
        XCTAssertLessThanOrEqual(relativeError(latents, ref), 1e-4)
    }

    func testDefaultSchedulersAreTheReleasedOnes() throws {
        // The fixture folders carry the released checkpoints' scheduler_config.json files.
        for (model, layout, turbo) in [("sd15-tiny", CheckpointLayout.sd1, false), ("sd21-tiny", .sd2, false),
                                       ("sdxl-tiny", .sdxl, false), ("sdxl-turbo-tiny", .sdxl, true)] {
            let shipped = try DiffusersFolder(path: Fixtures.path("models/\(model)")).config("scheduler", as: SchedulerConfig.self)
            XCTAssertEqual(try DefaultSchedulerConfigs.config(for: layout, turbo: turbo), shipped, model)
        }
    }

    func testConfigFolderOnlyAppliesToFiles() throws {
        XCTAssertThrowsError(try StableDiffusionPipeline(path: Fixtures.path("models/sd15-tiny"),
                                                         configFolder: Fixtures.path("models/sd15-tiny"))) {
            XCTAssertTrue("\($0)".contains("single-file"), "\($0)")
        }
    }

    func testMismatchedConfigFolderIsNamed() throws {
        // SDXL tensors with SD 1.5 configs: the layout and the U-Net config disagree.
        XCTAssertThrowsError(try StableDiffusionPipeline(path: Fixtures.path("single-file/sdxl-tiny.safetensors"),
                                                         configFolder: Fixtures.path("models/sd15-tiny"))) {
            XCTAssertTrue("\($0)".contains("text_time"), "\($0)")
        }
    }

    private func assertSameAsFolder(file: String, model: String, layout: CheckpointLayout, family: ModelFamily) throws {
        let folderPath = Fixtures.path("models/\(model)")
        let checkpoint = try SingleFileCheckpoint(path: file)
        XCTAssertEqual(checkpoint.layout, layout)

        // Every tensor of every component, read through the mapping, equals the folder's.
        let folder = try DiffusersFolder(path: folderPath)
        for component in checkpoint.components {
            let ours = try checkpoint.weights(component), theirs = try folder.weights(component.rawValue)
            XCTAssertFalse(theirs.names.isEmpty)
            for name in theirs.names {
                guard let shape = theirs.shape(of: name) else { continue }
                let a = try ours(name, shape: shape), b = try theirs(name, shape: shape)
                XCTAssertEqual(a.maxAbsDifference(b), 0, "\(model) \(component.rawValue) \(name)")
            }
        }

        // The pipelines: same family and identical generations (guided, with a negative prompt).
        let single = try StableDiffusionPipeline(path: file, configFolder: folderPath)
        let reference = try StableDiffusionPipeline(path: folderPath)
        XCTAssertEqual(single.family, family)
        XCTAssertEqual(reference.family, family)
        let request = GenerationRequest(prompt: "a photo of a cat", negativePrompt: "blurry", width: 64, height: 64,
                                        steps: 3, guidanceScale: 5, seed: 7)
        let a = try single.denoise(request), b = try reference.denoise(request)
        XCTAssertEqual(a.maxAbsDifference(b), 0, "\(model): single-file and folder generations differ")
        let ia = try single.decode(a), ib = try reference.decode(b)
        XCTAssertEqual(ia.pixels, ib.pixels, model)
    }
}
