import ArgumentParser
import Foundation
import HiDiffImage
import HiDiffPipeline
import HiDiffStore
import HiDiffSubmission

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
        // The submission rules shared with the HTTP API (HiDiffSubmission), under this command's option names.
        if let problem = Submission.settingsProblem(maxAttempts: maxAttempts, priority: priority, batch: batch) {
            throw ValidationError(problem.optionMessage)
        }
        if let workers, let problem = Submission.workersProblem(workers, template: generation.request(prompt: "", seed: 0)) {
            throw ValidationError(problem.optionMessage)
        }
    }

    func run() throws {
        let prompts = try readPrompts()
        let seedList = try seeds.map(SeedList.parse) ?? [generation.seed ?? Submission.randomSeed()]
        var submission = Submission(model: model, template: generation.request(prompt: "", seed: 0),
                                    prompts: prompts, seeds: seedList, initImage: try readInitImage())
        submission.priority = priority
        submission.maxAttempts = maxAttempts
        submission.batch = batch
        submission.workers = workers
        if let problem = submission.problem() { throw ValidationError(problem.optionMessage) }
        let store = try database.store()
        if let problem = submission.modelProblem(known: try store.modelsAvailable()) {
            throw ValidationError(problem.optionMessage)
        }
        if let workers, workers > 1 {
            let online = try store.workers().filter { $0.state != "offline" && $0.models.contains(model) }.count
            if online < workers {
                FileHandle.standardError.write(Data("hidiff submit: only \(online) online workers offer \(model); these jobs wait until \(workers) are connected (each started with --peer-listen)\n".utf8))
            }
        }
        let jobs = try submission.jobs()
        let described = submission.requests().map { (seed: $0.seed, prompt: $0.prompt) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
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

    /// The init image's bytes (checked with the rest of the submission); workers never see the path.
    private func readInitImage() throws -> [UInt8]? {
        guard let path = generation.initImage else { return nil }
        guard let data = try CLIFiles.readRegularFile(path, what: "--init-image", limit: SubmissionLimits.maxInitImageBytes) else { return nil }
        let bytes = [UInt8](data)
        if let problem = Submission.initImageProblem(bytes, template: generation.request(prompt: "", seed: 0)) {
            throw ValidationError(problem.field == .initImage ? "--init-image \(path) \(problem.reason)" : problem.optionMessage)
        }
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
