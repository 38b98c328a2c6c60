import ArgumentParser
import Foundation
import HiDiffImage
import HiDiffPipeline
import HiDiffStore

/// `hidiff submit`: queues one job per (prompt, seed) in the cluster, all or nothing.
struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit", abstract: "Queue renders on the cluster; prints one job id a line.")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "A model name the cluster's workers offer (`hidiff admin workers` lists them).")
    var model: String = "shapes"
    @OptionGroup var generation: GenerationOptions
    @Option(help: "Seeds: a range 1-8, a list 3,5,9, or both (one job per seed and prompt).")
    var seeds: String?
    @Option(help: "A file with one prompt a line (one job per prompt and seed); blank lines are skipped.")
    var promptsFile: String?
    @Option(help: "Higher runs first.")
    var priority: Int = 0
    @Option(help: "Name the jobs' batch (to follow, collect or cancel them together).")
    var batch: String?
    @Option(help: "Attempts before a job fails for good.")
    var maxAttempts: Int = 3
    @Option(help: "Workers that render each job together, its latent split into that many row stripes (1-64). Each must run `hidiff worker --peer-listen`.")
    var workers: Int?
    @Flag(help: "Print a JSON array of {id, batch, seed, prompt}.")
    var json = false

    func validate() throws {
        if (generation.prompt == nil) == (promptsFile == nil) {
            throw ValidationError("give the prompt with --prompt or --prompts-file (one of them)")
        }
        if seeds != nil && generation.seed != nil { throw ValidationError("give --seed or --seeds, not both") }
        if let seeds { _ = try SeedList.parse(seeds) }
        try requireRange(maxAttempts, 1...100, option: "--max-attempts")
        try requireRange(priority, -1_000_000...1_000_000, option: "--priority")
        if let batch, batch.isEmpty || batch.count > 200 || batch.contains(where: { $0.isNewline }) {
            throw ValidationError("--batch must be 1-200 characters on one line")
        }
        if let workers {
            try requireRange(workers, 1...64, option: "--workers")
            // The stripes must fit the latent: every stripe but the last a multiple of the U-Net's total
            // downsampling (8 for SD 1.x/2.x, 4 for SDXL; 4x that with HiDiffusion). Checked here for the
            // strictest layout when the height is known; the worker checks the model's own.
            if workers > 1, let height = generation.height {
                let hidiffusion = generation.hidiffusionOptions.hidiffusion != .off
                do {
                    _ = try StripePlan(latentHeight: height / 8, parts: workers,
                                       unit: StripePlan.unit(levels: 4, hidiffusion: hidiffusion))
                } catch {
                    throw ValidationError("--workers \(workers) at height \(height): \(error)")
                }
            }
        }
    }

    func run() throws {
        let prompts = try readPrompts()
        let seedList = try seeds.map(SeedList.parse) ?? [generation.seed ?? GenerationOptions.randomSeed()]
        guard prompts.count * seedList.count <= SeedList.limit else {
            throw ValidationError("\(prompts.count) prompts x \(seedList.count) seeds is more than \(SeedList.limit) jobs; split the batch")
        }
        let initImage = try readInitImage()
        let store = try database.store()
        let known = try store.modelsAvailable()
        guard known.contains(model) else {
            throw ValidationError(known.isEmpty
                ? "no worker has registered with the cluster yet, so no model is known; start a worker (`hidiff worker`) and submit again"
                : "no registered worker offers model \(model) (known: \(known.sorted().joined(separator: ", "))); pick one of those or start a worker with --models holding it")
        }
        if let workers, workers > 1 {
            let online = try store.workers().filter { $0.state != "offline" && $0.models.contains(model) }.count
            if online < workers {
                FileHandle.standardError.write(Data("hidiff submit: only \(online) online workers offer \(model); these jobs wait until \(workers) are connected (each started with --peer-listen)\n".utf8))
            }
        }
        var jobs: [NewJob] = []
        var described: [(seed: UInt64, prompt: String)] = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for prompt in prompts {
            for seed in seedList {
                let request = generation.request(prompt: prompt, seed: seed)
                let json = String(decoding: try encoder.encode(request), as: UTF8.self)
                jobs.append(NewJob(model: model, requestJSON: json, steps: generation.steps, initImage: initImage,
                                   priority: priority, maxAttempts: maxAttempts, groupSize: workers))
                described.append((seed, prompt))
            }
        }
        let ids = try store.submit(jobs, batch: batch)
        if json {
            let rows = zip(ids, described).map { id, d in
                SubmittedJob(id: id, batch: batch, seed: d.seed, prompt: d.prompt)
            }
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        } else {
            for id in ids { print(id) }
        }
    }

    private func readPrompts() throws -> [String] {
        if let prompt = generation.prompt {
            guard !prompt.isEmpty else { throw ValidationError("--prompt is empty") }
            return [prompt]
        }
        let path = promptsFile!
        guard let data = try CLIFiles.readRegularFile(path, what: "--prompts-file", limit: 16 << 20),
              let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("--prompts-file \(path) is not UTF-8 text")
        }
        let prompts = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !prompts.isEmpty else { throw ValidationError("--prompts-file \(path) holds no prompt (one a line)") }
        return prompts
    }

    /// The init image's bytes, checked to be a PNG whose size fits the request; workers never see the path.
    private func readInitImage() throws -> [UInt8]? {
        guard let path = generation.initImage else { return nil }
        guard let data = try CLIFiles.readRegularFile(path, what: "--init-image", limit: 256 << 20) else { return nil }
        let bytes = [UInt8](data)
        let image = try PNGReader.read(bytes: bytes)
        guard image.width % 8 == 0, image.height % 8 == 0 else {
            throw ValidationError("--init-image \(path) is \(image.width)x\(image.height); img2img needs both sides multiples of 8")
        }
        if let w = generation.width, w != image.width { throw ValidationError("--width \(w) differs from the init image's width \(image.width)") }
        if let h = generation.height, h != image.height { throw ValidationError("--height \(h) differs from the init image's height \(image.height)") }
        return bytes
    }
}

/// One line of `submit --json`.
struct SubmittedJob: Encodable {
    var id: Int64
    var batch: String?
    var seed: UInt64
    var prompt: String
}
