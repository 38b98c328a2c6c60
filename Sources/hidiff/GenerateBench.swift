import ArgumentParser
import Foundation
import HiDiffCore
import HiDiffPipeline

/// `hidiff bench generate`: whole text-to-image generations as a user waits for them (text encoding, every
/// denoising step, VAE decoding) on a pipeline loaded once; the hidiff side of
/// `tools/reference/bench_torch_generate.py`, which prints the same keys.
///
/// The pipeline reports no timings of its own, so the phases are timed from outside, around its public calls:
/// `text_encode_and_setup_s` runs from the call to `denoise` to its first progress report (the request's
/// checks, the scheduler, the initial noise and the text encoders), `denoise_s` from there to its last
/// progress report (every U-Net call with its guidance and scheduler step; `step_median_s` is the median of
/// the intervals between reports), `vae_decode_s` around `decode` (the VAE decoder and the conversion to
/// 8-bit RGB). No PNG is written.
struct GenerateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Time whole txt2img generations (text encoders, denoising, VAE decoding); one JSON line.",
        discussion: """
            Phases (of the median run; with --batch, summed over its images), timed around the pipeline's calls: \
            text_encode_and_setup_s from the start of denoising to its first progress report (request checks, \
            scheduler, initial noise, text encoders); denoise_s from there to the last report (every U-Net call, \
            guidance and scheduler step), step_median_s the median interval between reports; vae_decode_s the VAE \
            decoder and the conversion to 8-bit RGB. With HIDIFF_PROFILE set in the environment, \
            profile_denoise (prompt encoding included) and profile_vae_decode give the median run's kernels per \
            phase, name -> [calls, \
            CPU seconds, wall seconds]. Compare with tools/reference/bench_torch_generate.py \
            (ops/bench/generate-vs-torch.sh runs both).
            """)

    @Option(help: "A diffusers pipeline folder or a single-file checkpoint. Default: the bundled demo model.")
    var model: String?
    // `.unconditional`: "-W -64" reaches validate() (a clear message) instead of "Missing value".
    @Option(name: [.customShort("W"), .long], parsing: .unconditional, help: "Width in pixels (default: the model's native size).")
    var width: Int?
    @Option(name: [.customShort("H"), .long], parsing: .unconditional, help: "Height in pixels (default: the model's native size).")
    var height: Int?
    @Option(parsing: .unconditional, help: "Denoising steps per image (the model's own scheduler).")
    var steps: Int = 20
    @Option(help: "Timed runs (after the warm-up runs).")
    var runs: Int = 3
    @Option(help: "Untimed warm-up runs before the timed ones.")
    var warmup: Int = 1
    @Option(help: "Arithmetic: fp32 (exact) or bf16 (bfloat16 U-Net and VAE weights and products, float32 sums).")
    var precision: Precision = .fp32
    @Option(help: "Images per prompt in each run, generated one after another (each with its own text encoding, denoising and decoding; seeds --seed, --seed + 1, ...).")
    var batch: Int = 1
    @Option(parsing: .unconditional, help: "Classifier-free guidance scale (above 1: every U-Net call is batch 2).")
    var cfgScale: Double = 7.5
    @Option(help: "The prompt of every generation (no negative prompt).")
    var prompt: String = Self.defaultPrompt
    @Option(help: "Noise seed of the first image.")
    var seed: UInt64 = 0
    @Option(help: "HiDiffusion: off (the default: a direct generation, as diffusers runs it), auto, on.")
    var hidiffusion: HiDiffusionMode = .off

    /// The prompt both benchmark scripts use unless told otherwise.
    static let defaultPrompt = "a photo of an astronaut riding a horse on mars"

    func validate() throws {
        try requireRange(runs, 1...1000, option: "--runs")
        try requireRange(warmup, 0...100, option: "--warmup")
        try requireRange(batch, 1...64, option: "--batch")
        // The engine's own rules (GenerationRequest.problem), under this command's option names.
        if let (field, reason) = request(seed: seed).problem() {
            throw ValidationError("\(field.option) \(reason)")
        }
    }

    /// The request every generation runs, with `seed`.
    func request(seed: UInt64) -> GenerationRequest {
        var request = GenerationRequest(prompt: prompt, width: width, height: height, steps: steps,
                                        guidanceScale: cfgScale, seed: seed)
        request.precision = precision
        request.hidiffusion = hidiffusion
        return request
    }

    /// One image's phases, in seconds.
    struct Phases {
        var encode = 0.0, denoise = 0.0, decode = 0.0
        var steps: [Double] = []
        var unetCalls = 0
        /// With `HIDIFF_PROFILE`: kernel name -> [calls, CPU seconds, wall seconds], for the prompt encoding and
        /// denoising, and for the VAE decode.
        var denoiseProfile: [String: [Double]] = [:], decodeProfile: [String: [Double]] = [:]

        mutating func add(_ other: Phases) {
            encode += other.encode
            denoise += other.denoise
            decode += other.decode
            steps += other.steps
            unetCalls += other.unetCalls
            denoiseProfile.merge(other.denoiseProfile) { zip($0, $1).map { $0 + $1 } }
            decodeProfile.merge(other.decodeProfile) { zip($0, $1).map { $0 + $1 } }
        }

        /// The kernels' totals since `OpProfile.reset()`, then resets them.
        static func takeProfile() -> [String: [Double]] {
            defer { OpProfile.reset() }
            return Dictionary(uniqueKeysWithValues: OpProfile.snapshot().map {
                ($0.name, [Double($0.calls), $0.cpuSeconds, $0.wallSeconds])
            })
        }
    }

    func run() throws {
        let modelPath = try model ?? DemoModel.path()
        let loadStart = ProcessStats.now()
        let pipeline = try StableDiffusionPipeline(path: modelPath, precision: precision)
        let loadSeconds = ProcessStats.now() - loadStart
        let first = request(seed: seed)
        try pipeline.checkMemory(first, initImage: nil, limit: Int64(ProcessInfo.processInfo.physicalMemory),
                                 hint: "the limit is this machine's memory; benchmark a smaller -W / -H")
        let scheduler = try first.scheduler ?? pipeline.schedulerConfig.defaultKind()

        var walls: [Double] = [], cpus: [Double] = [], phases: [Phases] = []
        for i in 0..<(warmup + runs) {
            let (t0, c0) = (ProcessStats.now(), ProcessStats.cpuSeconds())
            var run = Phases()
            for k in 0..<batch {
                run.add(try generate(pipeline, request(seed: seed &+ UInt64(k))))
            }
            let (wall, cpu) = (ProcessStats.now() - t0, ProcessStats.cpuSeconds() - c0)
            if i >= warmup {
                walls.append(wall)
                cpus.append(cpu)
                phases.append(run)
            }
        }
        // The phases are those of the median run, so they add up to (at most) its total.
        let order = walls.indices.sorted { walls[$0] < walls[$1] }
        let median = order[order.count / 2]
        let p = phases[median]
        var line: [String: Any] = [
            "bench": "generate", "model": modelPath, "family": pipeline.family.rawValue,
            "width": first.width ?? pipeline.nativeSize, "height": first.height ?? pipeline.nativeSize,
            "steps": steps, "cfg_scale": cfgScale, "unet_batch": cfgScale > 1 ? 2 : 1, "batch": batch,
            "batch_mode": "sequential", "precision": precision.rawValue, "runs": runs, "warmup": warmup,
            "seed": seed, "prompt": prompt, "scheduler": scheduler.rawValue, "hidiffusion": hidiffusion.rawValue,
            "median_s": walls[median], "min_s": walls.min()!, "median_cpu_s": cpus.sorted()[cpus.count / 2],
            "phases": [
                "text_encode_and_setup_s": p.encode, "denoise_s": p.denoise,
                "step_median_s": p.steps.sorted()[p.steps.count / 2], "vae_decode_s": p.decode,
            ],
            "phases_timed": "around the pipeline's public calls, for the median run (hidiff bench generate --help)",
            "unet_calls": p.unetCalls, "load_s": loadSeconds, "kernels": KernelSummary.text,
            "peak_rss_bytes": ProcessStats.peakResidentBytes() ?? -1, "threads": ProcessInfoCores.count,
        ]
        if OpProfile.enabled {
            // The median run's kernels: name -> [calls, CPU seconds, wall seconds], per phase.
            line["profile_denoise"] = p.denoiseProfile
            line["profile_vae_decode"] = p.decodeProfile
        }
        print(try jsonLine(line))
    }

    /// One whole generation, timed by phase (the image is dropped).
    func generate(_ pipeline: StableDiffusionPipeline, _ request: GenerationRequest) throws -> Phases {
        var marks: [Double] = []  // the start, then each progress report: before the first step and after each
        if OpProfile.enabled { OpProfile.reset() }
        let start = ProcessStats.now()
        let latents = try pipeline.denoise(request) { _, _ in marks.append(ProcessStats.now()) }
        let denoiseProfile = OpProfile.enabled ? Phases.takeProfile() : [:]
        let decodeStart = ProcessStats.now()
        _ = try pipeline.decode(latents)
        let end = ProcessStats.now()
        let decodeProfile = OpProfile.enabled ? Phases.takeProfile() : [:]
        guard let firstReport = marks.first, let lastReport = marks.last, marks.count >= 2 else {
            throw ValidationError("the pipeline ran no denoising step (\(marks.count) progress reports), so there "
                                  + "is nothing to time; this is a bug in bench generate, please report it")
        }
        return Phases(encode: firstReport - start, denoise: lastReport - firstReport, decode: end - decodeStart,
                      steps: zip(marks.dropFirst(), marks).map { $0 - $1 }, unetCalls: marks.count - 1,
                      denoiseProfile: denoiseProfile, decodeProfile: decodeProfile)
    }
}
