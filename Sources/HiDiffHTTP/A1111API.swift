import Foundation
import HiDiffStore
import HiDiffSubmission
import Hummingbird

/// AUTOMATIC1111-compatible endpoints under `/sdapi/v1`, so scripts and tools written for that API render
/// on the cluster unchanged: txt2img and img2img run as cluster jobs (one per image) and return when they
/// finish; progress, models, samplers, options and interrupt answer as A1111 does.
struct A1111API: Sendable {
    let services: APIServices

    func register(on router: Router<BasicRequestContext>) {
        let api = router.group("sdapi/v1")
        api.post("txt2img") { request, _ in try await render(request, img2img: false) }
        api.post("img2img") { request, _ in try await render(request, img2img: true) }
        api.get("progress") { _, _ in try await progress() }
        api.get("sd-models") { _, _ in
            let models = try await services.db { try $0.modelsAvailable() }.sorted()
            return try services.json(models.map { name -> [String: Any] in
                ["title": name, "model_name": name, "hash": NSNull(), "sha256": NSNull(), "filename": name,
                 "config": NSNull()]
            })
        }
        api.get("samplers") { _, _ in
            try services.json(A1111Sampler.listed.map { ["name": $0.name, "aliases": $0.aliases, "options": [String: String]()] })
        }
        api.get("options") { _, _ in try services.json(options()) }
        api.post("options") { request, _ in
            try services.requireToken(request)
            let body = try await services.jsonBody(request)
            if let checkpoint = try body.string("sd_model_checkpoint") {
                let model = A1111Request.modelName(checkpoint)
                let known = try await services.db { try $0.modelsAvailable() }
                guard known.contains(model) else {
                    throw APIError.invalid("sd_model_checkpoint", "\"\(model)\": no registered worker offers it (known: \(known.sorted().joined(separator: ", ")))")
                }
                services.defaultModel = model
            }
            return try services.json(NSNull())
        }
        api.post("interrupt") { request, _ in
            try services.requireToken(request)
            let ids = services.renders.renders.flatMap(\.jobIDs)
            let cancelled = try await services.db { try $0.cancel(jobIDs: ids) }
            return try services.json(["cancelled": cancelled])
        }
    }

    private func options() -> [String: Any] {
        ["sd_model_checkpoint": services.defaultModel, "samples_format": "png", "sd_checkpoint_hash": NSNull(),
         "eta_ddim": 0, "eta_ancestral": 1]
    }

    /// Submits one job per image, waits for them all, and answers `{images, parameters, info}`.
    private func render(_ request: Request, img2img: Bool) async throws -> Response {
        try services.requireToken(request)
        let body = try await services.jsonBody(request)
        let call = try A1111Request(body, img2img: img2img, maxImages: services.configuration.maxImagesPerCall)
        let model = call.model ?? services.defaultModel
        let baseSeed: UInt64 = if case .fixed(let s) = call.seed { s } else { Submission.randomSeed() }
        let submission = try call.submission(model: model, baseSeed: baseSeed)
        let known = try await services.db { try $0.modelsAvailable() }
        if let problem = submission.modelProblem(known: known) { throw A1111Request.apiError(problem) }
        let jobs = try submission.jobs()
        let ids = try await services.db { try $0.submit(jobs, batch: nil) }
        services.metrics.submitted(ids.count, api: "a1111")
        let token = services.renders.start(ids)
        defer { services.renders.finish(token) }
        let records = try await wait(for: ids)
        let failed = records.filter { $0.state == .failed }
        if !failed.isEmpty {
            throw APIError(.internalServerError, failed.map { "job \($0.id) failed: \($0.error ?? "no error recorded")" }.joined(separator: "; "),
                           kind: "render_failed")
        }
        var images: [String] = []
        if call.sendImages {
            for record in records where record.state == .succeeded {
                if let result = try await services.db({ try $0.result(jobID: record.id) }) {
                    images.append(Data(result.png).base64EncodedString())
                }
            }
        }
        let seeds = call.seeds(base: baseSeed)
        let info: [String: Any] = [
            "prompt": call.prompt, "all_prompts": Array(repeating: call.prompt, count: seeds.count),
            "negative_prompt": call.negativePrompt,
            "all_negative_prompts": Array(repeating: call.negativePrompt, count: seeds.count),
            "seed": baseSeed, "all_seeds": seeds, "subseed": -1, "all_subseeds": Array(repeating: -1, count: seeds.count),
            "steps": call.steps, "cfg_scale": call.cfgScale, "width": (records.first.flatMap { Self.size($0).0 } ?? call.width) as Any? ?? NSNull(),
            "height": (records.first.flatMap { Self.size($0).1 } ?? call.height) as Any? ?? NSNull(),
            "sampler_name": call.sampler?.name as Any? ?? NSNull(), "sd_model_name": model, "batch_size": call.batchSize,
            "n_iter": call.nIter, "job_ids": ids, "interrupted": records.contains { $0.state == .cancelled },
        ]
        let infoText = String(decoding: try JSONSerialization.data(withJSONObject: info, options: [.sortedKeys]), as: UTF8.self)
        return try services.json(["images": images, "parameters": call.parameters(model: model, seed: baseSeed), "info": infoText])
    }

    /// The width and height a job's stored request names, if any.
    private static func size(_ record: JobRecord) -> (Int?, Int?) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(record.requestJSON.utf8)) as? [String: Any] else { return (nil, nil) }
        return ((object["width"] as? NSNumber)?.intValue, (object["height"] as? NSNumber)?.intValue)
    }

    /// Polls until every job has ended; 504 after `maxWaitSeconds` (the jobs go on).
    private func wait(for ids: [Int64]) async throws -> [JobRecord] {
        let deadline = ContinuousClock.now + .seconds(services.configuration.maxWaitSeconds)
        while true {
            let records = try await services.db { try $0.jobs(ids: ids) }
            if records.count == ids.count && records.allSatisfy(\.isFinished) { return records }
            guard ContinuousClock.now < deadline else {
                throw APIError(.gatewayTimeout, "jobs \(ids.map(String.init).joined(separator: ", ")) did not finish within \(Int(services.configuration.maxWaitSeconds)) s; they go on: follow them at /api/v1/jobs/ID",
                               kind: "timeout")
            }
            try await Task.sleep(for: .seconds(services.configuration.pollSeconds))
        }
    }

    /// `{progress, eta_relative, state: {...}, current_image, textinfo}` over the calls in flight;
    /// `current_image` is the latest latent preview (base64 PNG at latent resolution) of their running job.
    private func progress() async throws -> Response {
        let renders = services.renders.renders
        let ids = renders.flatMap(\.jobIDs)
        let records = ids.isEmpty ? [] : try await services.db { try $0.jobs(ids: ids) }
        let steps = records.reduce(0) { $0 + $1.steps }, done = records.reduce(0) { $0 + ($1.isFinished ? $1.steps : $1.step) }
        let fraction = steps > 0 ? Double(done) / Double(steps) : 0
        let running = records.first { $0.state == .running } ?? records.first { !$0.isFinished }
        let elapsed = renders.first.map { Double(($0.started.duration(to: .now)).components.seconds) } ?? 0
        // The latest preview of the running job (else of any unfinished one), as A1111 sends its live preview.
        let preview = records.filter { !$0.isFinished }.sorted { ($0.state == .running ? 0 : 1) < ($1.state == .running ? 0 : 1) }
            .lazy.compactMap { services.previews.latest(jobID: $0.id) }.first
        let state: [String: Any] = [
            "skipped": false, "interrupted": records.contains { $0.cancelRequested || $0.state == .cancelled },
            "job": running.map { "job \($0.id)" } ?? "", "job_count": records.count,
            "job_no": records.filter(\.isFinished).count, "job_timestamp": "",
            "sampling_step": running?.step ?? 0, "sampling_steps": running?.steps ?? 0,
        ]
        return try services.json([
            "progress": fraction, "eta_relative": fraction > 0 ? elapsed / fraction - elapsed : 0, "state": state,
            "current_image": preview.map { Data($0.png).base64EncodedString() } ?? NSNull(), "textinfo": NSNull(),
        ])
    }
}
