import Foundation
import HiDiffPipeline
import HiDiffStore
import HiDiffSubmission
import Hummingbird

/// The JSON jobs API under `/api/v1` (docs/openapi.yaml): the operations of `hidiff submit`, `status`,
/// `result`, `cancel`, `admin retry`, `admin workers` and `admin queue`, with the same rules.
struct JobsAPI: Sendable {
    let services: APIServices

    func register(on router: Router<BasicRequestContext>) {
        let api = router.group("api/v1")
        api.post("jobs") { request, _ in try await submit(request) }
        api.get("jobs") { request, _ in try await list(request) }
        api.get("jobs/:id") { _, context in
            let id = try jobID(context)
            guard let job = try await services.db({ try $0.job(id: id) }) else { throw notFound(id) }
            return try services.json(job.statusJSON)
        }
        api.get("jobs/:id/events") { _, context in
            let id = try jobID(context)
            guard try await services.db({ try $0.job(id: id) }) != nil else { throw notFound(id) }
            return try services.json(encoding: try await services.db { try $0.events(jobID: id) })
        }
        api.get("jobs/:id/result") { request, context in try await result(request, id: try jobID(context)) }
        api.post("jobs/:id/cancel") { request, context in
            try services.requireToken(request)
            let id = try jobID(context)
            guard try await services.db({ try $0.job(id: id) }) != nil else { throw notFound(id) }
            let affected = try await services.db { try $0.cancel(jobIDs: [id]) }
            return try services.json(["cancelled": affected])
        }
        api.post("jobs/:id/retry") { request, context in
            try services.requireToken(request)
            let id = try jobID(context)
            try await services.db { try $0.retry(jobID: id) }
            return try services.json(["retried": [id]])
        }
        api.post("batches/:name/cancel") { request, context in
            try services.requireToken(request)
            let name = context.parameters.get("name") ?? ""
            let affected = try await services.db { try $0.cancel(batch: name) }
            return try services.json(["cancelled": affected])
        }
        api.get("workers") { _, _ in try services.json(encoding: try await services.db { try $0.workers() }) }
        api.get("queue") { _, _ in try services.json(encoding: try await services.db { try $0.queueStats() }) }
    }

    /// POST /api/v1/jobs: `{model?, request: {prompt, ...}, prompts?, seeds?, priority?, batch?,
    /// max_attempts?, workers?, init_image? (base64 PNG)}` → 201 `{jobs: [{id, batch, seed, prompt}]}`.
    private func submit(_ request: Request) async throws -> Response {
        try services.requireToken(request)
        let body = try await services.jsonBody(request)
        let submission = try Self.submission(body, defaultModel: services.defaultModel)
        let known = try await services.db { try $0.modelsAvailable() }
        if let problem = submission.modelProblem(known: known) {
            throw APIError(.unprocessableContent, problem.keyMessage, field: "model")
        }
        let jobs = try submission.jobs()
        let batch = submission.batch
        let ids = try await services.db { try $0.submit(jobs, batch: batch) }
        services.metrics.submitted(ids.count, api: "jobs")
        let rows: [[String: Any]] = zip(ids, submission.requests()).map { id, r in
            ["id": id, "batch": batch as Any? ?? NSNull(), "seed": r.seed, "prompt": r.prompt]
        }
        return try services.json(["jobs": rows], status: .created)
    }

    /// The submission a body describes, checked by `Submission.problem()` (422 naming the field).
    static func submission(_ body: JSONFields, defaultModel: String) throws -> Submission {
        guard let requestFields = try body.object("request") else {
            throw APIError.invalid("request", "is missing: send {\"request\": {\"prompt\": ..., ...}}")
        }
        if try requestFields.string("init_image") != nil {
            throw APIError.invalid("request.init_image", "is a path on the submitting machine; send the PNG itself as base64 in init_image")
        }
        // Types first, so a wrong one is named by its key path (the decoder's own message is less direct).
        for key in ["prompt", "negative_prompt", "prompt_2", "negative_prompt_2", "scheduler", "hidiffusion", "family",
                    "precision"] {
            _ = try requestFields.string(key)
        }
        for key in ["width", "height", "steps"] { _ = try requestFields.int(key) }
        for key in ["guidance_scale", "strength"] { _ = try requestFields.double(key) }
        _ = try requestFields.bool("karras")
        _ = try requestFields.object("hidiffusion_settings")
        // The request's own decoder (the stored form), with a seed filled in so it may be left out.
        var object = requestFields.values
        let seed = try requestFields.seed("seed")
        if seed == .random { object["seed"] = nil }
        let prompt = try requestFields.string("prompt")
        object["seed"] = object["seed"] ?? .int(0)
        object["prompt"] = object["prompt"] ?? .string("")
        let template: GenerationRequest
        do {
            template = try GenerationRequest(json: try JSONEncoder().encode(object))
        } catch PipelineError.invalidRequest(let field, let reason) {
            throw APIError(.unprocessableContent, "request: \(reason)", field: field == "request" ? "request" : "request.\(field)",
                           kind: "type_error")
        }
        let prompts = try body.strings("prompts") ?? prompt.map { [$0] } ?? []
        if prompt != nil && body.values["prompts"].map({ $0 != .null }) == true {
            throw APIError.invalid("prompts", "and request.prompt are both given; give one of them")
        }
        var seeds = try body.seeds("seeds")
        if seeds != nil, seed != nil, seed != .random {
            throw APIError.invalid("seeds", "and request.seed are both given; give one of them")
        }
        if seeds == nil {
            if case .fixed(let s)? = seed { seeds = [s] } else { seeds = [Submission.randomSeed()] }
        }
        var initImage: [UInt8]?
        if let text = try body.string("init_image") {
            guard let data = A1111Request.base64Image(text) else { throw APIError.invalid("init_image", "is not base64") }
            initImage = [UInt8](data)
        }
        var submission = Submission(model: try body.string("model") ?? defaultModel, template: template,
                                    prompts: prompts, seeds: seeds ?? [], initImage: initImage)
        submission.priority = try body.int("priority") ?? submission.priority
        submission.maxAttempts = try body.int("max_attempts") ?? submission.maxAttempts
        submission.batch = try body.string("batch")
        submission.workers = try body.int("workers")
        if let problem = submission.problem() {
            let key: String
            switch problem.field {
            case .request(let field): key = "request.\(field.rawValue)"
            case .prompts: key = prompts.count > 1 ? "prompts" : "request.prompt"
            default: key = problem.field.key
            }
            throw APIError.invalid(key, problem.reason)
        }
        return submission
    }

    private func list(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = query.get("limit").map { Int($0) ?? -1 } ?? 50
        guard (1...1000).contains(limit) else { throw APIError(.badRequest, "limit must be from 1 to 1000", field: "limit") }
        var state: JobState?
        if let name = query.get("state") {
            guard let s = JobState(rawValue: name) else {
                throw APIError(.badRequest, "state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))", field: "state")
            }
            state = s
        }
        let records: [JobRecord]
        if let batch = query.get("batch") {
            records = try await services.db { try $0.jobs(batch: batch) }
        } else {
            records = try await services.db { [state] in try $0.jobs(state: state, limit: limit) }
        }
        return try services.json(records.map(\.statusJSON))
    }

    /// The PNG (with its generation metadata), or `?format=base64` for `{id, png, metadata}` as JSON.
    private func result(_ request: Request, id: Int64) async throws -> Response {
        guard let job = try await services.db({ try $0.job(id: id) }) else { throw notFound(id) }
        guard job.state == .succeeded, let result = try await services.db({ try $0.result(jobID: id) }) else {
            throw APIError(.conflict, "job \(id) is \(job.state.rawValue); a result exists once it has succeeded", kind: "not_ready")
        }
        if request.uri.queryParameters.get("format") == "base64" {
            let metadata = (try? JSONSerialization.jsonObject(with: Data(result.metadataJSON.utf8))) ?? result.metadataJSON
            return try services.json(["id": id, "png": Data(result.png).base64EncodedString(), "metadata": metadata])
        }
        return services.bytes(result.png, contentType: "image/png", kind: "png")
    }

    private func jobID(_ context: BasicRequestContext) throws -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw APIError(.badRequest, "the job id must be a positive integer", field: "id")
        }
        return id
    }

    private func notFound(_ id: Int64) -> APIError { APIError(.notFound, "no job with id \(id)", kind: "not_found") }
}
