import Foundation
import HiDiffPipeline
import HiDiffSchedulers
import HiDiffSubmission

/// A `POST /sdapi/v1/txt2img` or `/img2img` body, read field by field: the fields that apply here (prompt,
/// negative_prompt, steps, cfg_scale, width, height, seed, sampler_name, scheduler, eta, batch_size, n_iter,
/// denoising_strength, init_images, override_settings.sd_model_checkpoint, send_images), each absent or null
/// meaning its default; every other field is ignored, as real clients send dozens of them.
public struct A1111Request: Sendable, Equatable {
    public var prompt = ""
    public var negativePrompt = ""
    /// A1111's defaults: 20 steps at guidance 7.
    public var steps = 20
    public var cfgScale = 7.0
    /// nil: the model's native size (or the init image's).
    public var width: Int?
    public var height: Int?
    public var seed = SeedValue.random
    /// nil: the model's own scheduler.
    public var sampler: A1111Sampler?
    public var scheduler = "automatic"
    public var karras = false
    public var batchSize = 1
    public var nIter = 1
    /// img2img: A1111's default 0.75.
    public var denoisingStrength = 0.75
    public var initImages: [[UInt8]] = []
    /// `override_settings.sd_model_checkpoint`, "[hash]" suffix dropped; nil: the default model.
    public var model: String?
    public var sendImages = true
    public var img2img = false

    /// The images the call makes.
    public var imageCount: Int { batchSize * nIter }

    /// Reads a JSON body; throws `APIError` 400 when it is not JSON, 422 naming the field for a wrong type
    /// or a value no rule admits.
    public init(json: Data, img2img: Bool, maxImages: Int = 100) throws {
        try self.init(JSONFields(body: json), img2img: img2img, maxImages: maxImages)
    }

    /// Reads `fields`; throws `APIError` 422 naming the field for a wrong type or a value no rule admits.
    init(_ fields: JSONFields, img2img: Bool, maxImages: Int) throws {
        self.img2img = img2img
        prompt = try fields.string("prompt") ?? prompt
        negativePrompt = try fields.string("negative_prompt") ?? negativePrompt
        steps = try fields.int("steps") ?? steps
        cfgScale = try fields.double("cfg_scale") ?? cfgScale
        width = try fields.int("width")
        height = try fields.int("height")
        seed = try fields.seed("seed") ?? seed
        if let name = try fields.string("sampler_name") ?? fields.string("sampler_index") {
            guard let sampler = A1111Sampler.named(name) else {
                throw APIError.invalid("sampler_name", "\"\(name)\" is not a sampler this cluster runs (one of \(A1111Sampler.known), any case)")
            }
            self.sampler = sampler
            karras = sampler.karras
        }
        if let scheduler = try fields.string("scheduler") {
            switch scheduler.lowercased() {
            case "automatic": break
            case "karras":
                guard let sampler, sampler.kind.supportsKarras else {
                    throw APIError.invalid("scheduler", "karras applies with sampler_name \"Euler\" or \"DPM++ 2M\" only (got \(sampler.map { "\"\($0.name)\"" } ?? "none"))")
                }
                karras = true
            default:
                throw APIError.invalid("scheduler", "must be \"automatic\" or \"karras\" (any case; got \"\(scheduler)\")")
            }
            self.scheduler = scheduler.lowercased()
        }
        if let eta = try fields.double("eta") {
            // DDIM runs deterministic (eta 0) and Euler a fully ancestral (eta 1) here; the others use none.
            if sampler?.kind == .ddim && eta != 0 {
                throw APIError.invalid("eta", "must be 0 with DDIM on this cluster (got \(eta))")
            }
            if sampler?.kind == .eulerAncestral && eta != 1 {
                throw APIError.invalid("eta", "must be 1 with \"Euler a\" on this cluster (got \(eta))")
            }
        }
        batchSize = try fields.int("batch_size") ?? batchSize
        nIter = try fields.int("n_iter") ?? nIter
        for (key, value) in [("batch_size", batchSize), ("n_iter", nIter)] where !(1...maxImages).contains(value) {
            throw APIError.invalid(key, "must be from 1 to \(maxImages) (got \(value))")
        }
        guard batchSize * nIter <= maxImages else {
            throw APIError.invalid("batch_size", "x n_iter is \(batchSize * nIter) images; at most \(maxImages) a call")
        }
        sendImages = try fields.bool("send_images") ?? sendImages
        if let overrides = try fields.object("override_settings"),
           let checkpoint = try overrides.string("sd_model_checkpoint") {
            model = Self.modelName(checkpoint)
        }
        if img2img {
            denoisingStrength = try fields.double("denoising_strength") ?? denoisingStrength
            let images = try fields.strings("init_images") ?? []
            guard !images.isEmpty else { throw APIError.invalid("init_images", "must hold at least one base64 PNG for img2img") }
            initImages = try images.enumerated().map { i, text in
                guard let data = Self.base64Image(text) else {
                    throw APIError.invalid("init_images.\(i)", "is not base64 (a PNG, optionally as a data: URL)")
                }
                return [UInt8](data)
            }
        }
    }

    /// The checkpoint's model name: A1111 titles read "name.safetensors [hash]".
    public static func modelName(_ title: String) -> String {
        var name = title.trimmingCharacters(in: .whitespaces)
        if name.hasSuffix("]"), let open = name.lastIndex(of: "[") {
            name = String(name[..<open]).trimmingCharacters(in: .whitespaces)
        }
        for suffix in [".safetensors", ".ckpt"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        return name
    }

    /// Base64 (standard alphabet, a `data:` URL prefix allowed) to bytes.
    static func base64Image(_ text: String) -> Data? {
        var body = Substring(text)
        if body.hasPrefix("data:"), let comma = body.firstIndex(of: ",") { body = body[body.index(after: comma)...] }
        return Data(base64Encoded: String(body.filter { !$0.isWhitespace }))
    }

    /// The seeds of the call's images: `base`, base + 1, ... as A1111 numbers them.
    public func seeds(base: UInt64) -> [UInt64] { (0..<imageCount).map { base &+ UInt64($0) } }

    /// The cluster submission for these images, checked by the CLI's rules (`Submission.problem`): a problem
    /// becomes a 422 under this API's field name.
    public func submission(model: String, baseSeed: UInt64) throws -> Submission {
        var template = GenerationRequest(prompt: "", negativePrompt: negativePrompt, width: width, height: height,
                                         steps: steps, guidanceScale: cfgScale, seed: 0, scheduler: sampler?.kind,
                                         karras: karras)
        if img2img { template.strength = denoisingStrength }
        let submission = Submission(model: model, template: template, prompts: [prompt], seeds: seeds(base: baseSeed),
                                    initImage: initImages.first)
        if let problem = submission.problem() { throw Self.apiError(problem) }
        return submission
    }

    /// A submission problem under A1111's field names.
    static func apiError(_ problem: SubmissionProblem) -> APIError {
        let key: String
        switch problem.field {
        case .request(.guidanceScale): key = "cfg_scale"
        case .request(.strength): key = "denoising_strength"
        case .initImage: key = "init_images"
        case .model: key = "override_settings.sd_model_checkpoint"
        case .seeds: key = "batch_size"
        default: key = problem.field.key
        }
        return APIError.invalid(key, problem.reason)
    }

    /// The `parameters` of the response: the request as it ran, defaults filled in.
    func parameters(model: String, seed: UInt64) -> [String: Any] {
        var p: [String: Any] = [
            "prompt": prompt, "negative_prompt": negativePrompt, "steps": steps, "cfg_scale": cfgScale,
            "seed": seed, "sampler_name": sampler?.name as Any? ?? NSNull(), "scheduler": scheduler,
            "batch_size": batchSize, "n_iter": nIter, "width": width as Any? ?? NSNull(), "height": height as Any? ?? NSNull(),
            "override_settings": ["sd_model_checkpoint": model], "send_images": sendImages,
        ]
        if img2img { p["denoising_strength"] = denoisingStrength }
        return p
    }
}
