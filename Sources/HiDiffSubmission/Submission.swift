import Foundation
import HiDiffImage
import HiDiffPipeline
import HiDiffStore

/// What a person asks the cluster to render: one job per (prompt, seed), all or nothing.
///
/// The one rule set for `hidiff submit` and the HTTP API: `problem()` checks everything that needs no
/// database (the request's own rules through `GenerationRequest.problem()`, counts, priority, batch name,
/// group size, the init image), `modelProblem(known:)` checks the model against what the workers offer, and
/// `jobs()` builds the rows `JobStore.submit` inserts.
public struct Submission: Sendable {
    /// The model the jobs run on (a name the workers offer).
    public var model: String
    /// Every field but prompt and seed, which come from `prompts` and `seeds`.
    public var template: GenerationRequest
    public var prompts: [String]
    public var seeds: [UInt64]
    /// The init image's PNG bytes (img2img), stored with each job; workers never see a path.
    public var initImage: [UInt8]?
    public var priority: Int = 0
    public var maxAttempts: Int = 3
    public var batch: String?
    /// Workers that render each job together (row stripes), or nil for one.
    public var workers: Int?

    public init(model: String, template: GenerationRequest, prompts: [String], seeds: [UInt64],
                initImage: [UInt8]? = nil) {
        self.model = model
        self.template = template
        self.prompts = prompts
        self.seeds = seeds
        self.initImage = initImage
    }

    /// A seed like `generate` draws when none is given.
    public static func randomSeed() -> UInt64 { UInt64.random(in: 0..<(1 << 32)) }

    /// The first thing wrong with the submission that needs no database, or nil.
    public func problem() -> SubmissionProblem? {
        if let problem = Self.settingsProblem(maxAttempts: maxAttempts, priority: priority, batch: batch) {
            return problem
        }
        if prompts.isEmpty { return SubmissionProblem(.prompts, "is missing (give at least one prompt)") }
        if let empty = prompts.firstIndex(where: \.isEmpty) {
            return SubmissionProblem(.prompts, prompts.count == 1 ? "is empty" : "number \(empty + 1) is empty")
        }
        if seeds.isEmpty { return SubmissionProblem(.seeds, "is empty (give at least one seed)") }
        if prompts.count * seeds.count > SubmissionLimits.maxJobs {
            return SubmissionProblem(.seeds, "\(prompts.count) prompts x \(seeds.count) seeds is more than \(SubmissionLimits.maxJobs) jobs; split the batch", standalone: true)
        }
        if let (field, reason) = template.problem() { return SubmissionProblem(.request(field), reason) }
        if initImage == nil && template.strength != GenerationRequest(prompt: "").strength {
            return SubmissionProblem(.request(.strength), "only applies with an init image (img2img)")
        }
        if let workers, let problem = Self.workersProblem(workers, template: template) { return problem }
        if let initImage, let problem = Self.initImageProblem(initImage, template: template) { return problem }
        return nil
    }

    /// The rules on priority, attempts and the batch name (checked by the CLI before it reads any file).
    public static func settingsProblem(maxAttempts: Int, priority: Int, batch: String?) -> SubmissionProblem? {
        if !SubmissionLimits.maxAttempts.contains(maxAttempts) {
            return SubmissionProblem(.maxAttempts, range(SubmissionLimits.maxAttempts, maxAttempts))
        }
        if !SubmissionLimits.priority.contains(priority) {
            return SubmissionProblem(.priority, range(SubmissionLimits.priority, priority))
        }
        if let batch, batch.isEmpty || batch.count > SubmissionLimits.maxBatchCharacters || batch.contains(where: \.isNewline) {
            return SubmissionProblem(.batch, "must be 1-\(SubmissionLimits.maxBatchCharacters) characters on one line")
        }
        return nil
    }

    /// The group size's rules: 1-64, and the stripes must fit the latent (every stripe but the last a
    /// multiple of the U-Net's total downsampling; checked for the strictest layout when the height is
    /// known, the worker checks the model's own).
    public static func workersProblem(_ workers: Int, template: GenerationRequest) -> SubmissionProblem? {
        guard SubmissionLimits.workers.contains(workers) else {
            return SubmissionProblem(.workers, range(SubmissionLimits.workers, workers))
        }
        if workers > 1, let height = template.height {
            do {
                _ = try StripePlan(latentHeight: height / 8, parts: workers,
                                   unit: StripePlan.unit(levels: 4, hidiffusion: template.hidiffusion != .off))
            } catch {
                return SubmissionProblem(.workers, "\(workers) at height \(height): \(error)", standalone: false)
            }
        }
        return nil
    }

    /// The init image must be a PNG with both sides multiples of 8, matching the request's size if given.
    public static func initImageProblem(_ bytes: [UInt8], template: GenerationRequest) -> SubmissionProblem? {
        guard bytes.count <= SubmissionLimits.maxInitImageBytes else {
            return SubmissionProblem(.initImage, "is \(bytes.count) bytes; at most \(SubmissionLimits.maxInitImageBytes)")
        }
        let image: RGBImage
        do { image = try PNGReader.read(bytes: bytes) } catch {
            return SubmissionProblem(.initImage, "is not a PNG this cluster reads: \(error)")
        }
        guard image.width % 8 == 0, image.height % 8 == 0 else {
            return SubmissionProblem(.initImage, "is \(image.width)x\(image.height); img2img needs both sides multiples of 8")
        }
        if let w = template.width, w != image.width {
            return SubmissionProblem(.request(.width), "\(w) differs from the init image's width \(image.width)")
        }
        if let h = template.height, h != image.height {
            return SubmissionProblem(.request(.height), "\(h) differs from the init image's height \(image.height)")
        }
        return nil
    }

    /// Whether the workers offer the model (`known`: `JobStore.modelsAvailable()`).
    public func modelProblem(known: Set<String>) -> SubmissionProblem? {
        guard !known.contains(model) else { return nil }
        return SubmissionProblem(.model, known.isEmpty
            ? "no worker has registered with the cluster yet, so no model is known; start a worker (`hidiff worker`) and submit again"
            : "no registered worker offers model \(model) (known: \(known.sorted().joined(separator: ", "))); pick one of those or start a worker with --models holding it",
            standalone: true)
    }

    /// The requests, one per (prompt, seed), prompts outer.
    public func requests() -> [GenerationRequest] {
        prompts.flatMap { prompt in
            seeds.map { seed in
                var request = template
                request.prompt = prompt
                request.seed = seed
                return request
            }
        }
    }

    /// The rows to insert, in `requests()` order (each request stored as JSON with sorted keys).
    public func jobs() throws -> [NewJob] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try requests().map { request in
            NewJob(model: model, requestJSON: String(decoding: try encoder.encode(request), as: UTF8.self),
                   steps: request.steps, initImage: initImage, priority: priority, maxAttempts: maxAttempts,
                   groupSize: workers)
        }
    }

    private static func range(_ range: ClosedRange<Int>, _ value: Int) -> String {
        "must be from \(range.lowerBound) to \(range.upperBound) (got \(value))"
    }
}
