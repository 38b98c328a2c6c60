import ArgumentParser
import HiDiffCore
import Foundation
import HiDiffEval
import HiDiffPipeline
import HiDiffSchedulers

/// `hidiff eval duplication`: how often direct inference and HiDiffusion duplicate objects above the
/// model's training size (issue 5; reference `tools/train/eval_duplication.py`).
struct EvalDuplicationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplication",
        abstract: "Count objects of the prompt's colour per image, direct vs HiDiffusion, per size.",
        discussion: """
            For each size, generates one image per seed S..S+N-1 with direct inference and (above the model's \
            native size) with HiDiffusion's defaults; seed S+i draws the i-th of the 12 prompts "a <red|green|\
            blue|yellow> <circle|square|triangle>", cyclically. Objects are the 4-connected regions of the \
            prompt's colour of at least 24 px (the definition of tools/train/count_objects.py). Prints a \
            Markdown table, or with --json an array of {"size", "mode", "images", "dup_rate", "mean_objects", \
            "seconds_per_image"}.
            """)

    @Option(help: "A diffusers pipeline folder. Default: the bundled demo model.")
    var model: String?
    @Option(help: "Comma-separated image sides in pixels.")
    var sizes: String = "64,128"
    @Option(help: "Number of seeds (images per case).")
    var seeds: Int = 16
    @Option(help: "The first seed.")
    var seedBase: UInt64 = 0
    @Option(help: "One prompt for every seed instead of the 12-prompt cycle (must name red, green, blue or yellow).")
    var prompt: String?
    @Option(help: "Denoising steps.")
    var steps: Int = 25
    @Option(help: "Classifier-free guidance scale.")
    var cfgScale: Double = 6
    @Option(help: "Scheduler: pndm, ddim, euler, euler-a, dpm++2m.")
    var scheduler: SchedulerKind = .ddim
    @Option(help: "Also write a contact sheet PNG (one row per case, marks under each image = objects counted).")
    var sheet: String?
    @Option(help: "Arithmetic: fp32 (exact) or bf16 (bfloat16 weights and products, float32 sums).")
    var precision: Precision = .fp32
    @Flag(help: "Print the rows as a JSON array instead of a Markdown table.")
    var json = false
    @Flag(help: "No per-image progress on stderr.")
    var quiet = false

    func parsedSizes() throws -> [Int] {
        try sizes.split(separator: ",").map { part in
            let text = part.trimmingCharacters(in: .whitespaces)
            guard let v = Int(text), v > 0 else {
                throw ValidationError("--sizes: \"\(text)\" is not a positive number of pixels")
            }
            return v
        }
    }

    func validate() throws {
        guard try !parsedSizes().isEmpty else { throw ValidationError("--sizes: no size given") }
        try requireRange(seeds, 1...10_000, option: "--seeds")
        // Each image is a generation request: the engine's rules, under this command's option names.
        for size in try parsedSizes() {
            let request = GenerationRequest(prompt: prompt ?? "", width: size, height: size, steps: steps,
                                            guidanceScale: cfgScale)
            if let (field, reason) = request.problem() {
                throw ValidationError(field == .width || field == .height
                                      ? "--sizes: \(size) \(reason.replacingOccurrences(of: " (got \(size))", with: ""))"
                                      : "\(field.option) \(reason)")
            }
            // A benchmark sweep renders every size many times: bounded tighter than one generation.
            guard size <= 4096 else { throw ValidationError("--sizes: \(size) must be at most 4096 for a benchmark sweep") }
        }
        if let prompt, ObjectCounter.promptColour(prompt) == nil {
            throw ValidationError("--prompt \"\(prompt)\" names none of red, green, blue, yellow")
        }
    }

    func run() throws {
        let benchmark = DuplicationBenchmark(
            sizes: try parsedSizes(), seedBase: seedBase, seedCount: seeds,
            prompts: prompt.map { [$0] } ?? DuplicationBenchmark.defaultPrompts)
        try benchmark.validate()
        let modelPath = try model ?? DemoModel.path()
        let pipeline = try StableDiffusionPipeline(path: modelPath, precision: precision)
        let generator = PipelineGenerator(pipeline: pipeline, steps: steps, guidanceScale: cfgScale,
                                          scheduler: scheduler)
        let native = pipeline.nativeSize
        for size in benchmark.sizes where size % pipeline.vaeScaleFactor != 0 {
            throw EvalError.invalidArgument(name: "--sizes", reason: "\(size) is not a multiple of the model's VAE factor \(pipeline.vaeScaleFactor)")
        }
        let stderr = FileHandle.standardError
        if !quiet {
            stderr.write(Data("model \(modelPath) (native \(native)x\(native)), \(scheduler.rawValue) \(steps) steps, guidance \(cfgScale), \(precision)\n".utf8))
        }
        if !json { print(DuplicationTable.header) }
        let cases = try benchmark.run(with: generator, progress: { p in
            guard !quiet else { return }
            let s = p.sample
            let line = "[\(p.index)/\(p.total)] \(p.mode.rawValue) \(p.size)x\(p.size) seed \(s.seed) \"\(s.prompt)\": "
                + "\(s.objects) object\(s.objects == 1 ? "" : "s") (" + String(format: "%.2f", s.seconds) + " s)\n"
            stderr.write(Data(line.utf8))
        }, caseDone: { c in
            guard !json else { return }
            print(DuplicationTable.line(c.row, nativeSize: native))
            fflush(stdout)
        })
        if json { print(DuplicationTable.json(cases.map(\.row))) }
        if let sheet {
            try ContactSheet().write(cases, to: sheet)
            if !quiet { stderr.write(Data("wrote \(sheet)\n".utf8)) }
        }
    }
}
