import ArgumentParser
import Foundation
import HiDiffCore
import HiDiffModels
import HiDiffPipeline

/// `hidiff bench ...`: benchmarks that print one JSON line of figures.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks; each prints one JSON line.",
        subcommands: [UNetBench.self, GenerateBench.self, HiDiffusionBench.self, SGEMMBench.self, OpsBench.self, ShardBench.self,
                       ShardRankBench.self])
}

/// Times U-Net forwards on random inputs.
struct UNetBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unet", abstract: "Time U-Net forward passes (random latents and text states).")

    @OptionGroup var input: UNetBenchInput
    @Option(help: "Timed runs (after the warm-up runs).")
    var runs: Int = 3
    @Option(help: "Untimed warm-up runs before the timed ones.")
    var warmup: Int = 1

    func validate() throws {
        try requireRange(runs, 1...1000, option: "--runs")
        try requireRange(warmup, 0...100, option: "--warmup")
    }

    func run() throws {
        let loadStart = ProcessStats.now()
        let (model, width, height, batch) = (input.model, input.width, input.height, input.batch)
        let unet = try ComponentLoader.unet(at: model, precision: input.precision)
        let loadSeconds = ProcessStats.now() - loadStart
        var gen = TorchGenerator(seed: 0)
        let sample = gen.randn([batch, unet.config.inChannels, height / input.vaeFactor, width / input.vaeFactor])
        let context = gen.randn([batch, 77, unet.crossAttentionDim])
        let added = input.addedConditions(for: unet.config, generator: &gen)
        var times: [Double] = [], cpuTimes: [Double] = []
        var flops = 0, modelFlops = 0
        for i in 0..<(warmup + runs) {
            if i == warmup { OpProfile.reset() }  // per-kernel totals (HIDIFF_PROFILE) cover the timed runs only
            let f0 = gemmFlopCounter.load(ordering: .relaxed), m0 = modelFlopCounter.load(ordering: .relaxed)
            let (t0, c0) = (ProcessStats.now(), ProcessStats.cpuSeconds())
            _ = try unet(sample, timestep: 500, encoderHiddenStates: context, added: added)
            let (dt, dc) = (ProcessStats.now() - t0, ProcessStats.cpuSeconds() - c0)
            if i >= warmup {
                times.append(dt)
                cpuTimes.append(dc)
                flops = gemmFlopCounter.load(ordering: .relaxed) - f0
                modelFlops = modelFlopCounter.load(ordering: .relaxed) - m0
            }
        }
        let sorted = times.sorted()
        let median = sorted[sorted.count / 2]
        let medianCPU = cpuTimes.sorted()[cpuTimes.count / 2]
        // gemm_*: what was issued to SGEMM; model_*: the layers' direct-convolution work (what PyTorch does),
        // larger when Winograd convolutions saved multiplications.
        let result: [String: Any] = [
            "bench": "unet", "model": model, "width": width, "height": height, "batch": batch,
            "runs": runs, "warmup": warmup, "median_s": median, "min_s": sorted[0], "median_cpu_s": medianCPU, "load_s": loadSeconds,
            "gemm_gflop": Double(flops) / 1e9, "gemm_gflops_per_s": Double(flops) / 1e9 / median,
            "gemm_gflops_per_cpu_s": Double(flops) / 1e9 / medianCPU,
            "model_gflop": Double(modelFlops) / 1e9, "model_gflops_per_s": Double(modelFlops) / 1e9 / median,
            "threads": ProcessInfoCores.count, "precision": input.precision.rawValue, "kernels": KernelSummary.text,
            "peak_rss_bytes": ProcessStats.peakResidentBytes() ?? -1,
        ]
        var line = result
        if OpProfile.enabled {
            // Per forward: kernel name -> [calls, CPU seconds, wall seconds].
            line["profile_per_forward"] = Dictionary(uniqueKeysWithValues: OpProfile.snapshot().map { e in
                (e.name, [Double(e.calls) / Double(runs), e.cpuSeconds / Double(runs), e.wallSeconds / Double(runs)])
            })
        }
        print(try jsonLine(line))
    }
}

/// The model and input sizes every U-Net benchmark takes.
struct UNetBenchInput: ParsableArguments {
    @Option(help: "A diffusers pipeline folder or a U-Net folder (config.json + safetensors).")
    var model: String
    @Option(name: [.customShort("W"), .long], help: "Image width in pixels (latent = width / vae factor).")
    var width: Int = 512
    @Option(name: [.customShort("H"), .long], help: "Image height in pixels (latent = height / vae factor).")
    var height: Int = 512
    @Option(help: "Batch size (2 = one classifier-free-guidance step).")
    var batch: Int = 2
    @Option(help: "Latent downsampling factor of the model's VAE.")
    var vaeFactor: Int = 8
    @Option(help: "Arithmetic: fp32 (exact) or bf16 (bfloat16 weights and products, float32 sums).")
    var precision: Precision = .fp32

    func validate() throws {
        guard vaeFactor >= 1, width % vaeFactor == 0, height % vaeFactor == 0, width > 0, height > 0 else {
            throw ValidationError("width and height must be positive multiples of the vae factor \(vaeFactor)")
        }
        try requireRange(batch, 1...64, option: "--batch")
        guard width <= GenerationLimits.maxSide && height <= GenerationLimits.maxSide else {
            throw ValidationError("--width and --height must be at most \(GenerationLimits.maxSide) (got \(width)x\(height))")
        }
    }

    /// SDXL's `text_time` conditions, as its pipeline builds them: a random pooled text embedding (its width is
    /// what the projection input leaves after six time ids) and time ids (h, w, 0, 0, h, w).
    func addedConditions(for config: UNetConfig, generator: inout TorchGenerator) -> UNetAddedConditions? {
        guard config.addition == "text_time", let timeDim = config.additionTimeEmbedDim,
              let projection = config.projectionClassEmbeddingsInputDim else { return nil }
        let pooled = generator.randn([batch, projection - 6 * timeDim])
        let ids = [height, width, 0, 0, height, width].map(Float.init)
        return UNetAddedConditions(textEmbeds: pooled,
                                   timeIds: Tensor(shape: [batch, 6], data: (0..<batch).flatMap { _ in ids }))
    }
}

/// Measures the machine's SGEMM peak through the same OpenBLAS the engine uses.
struct SGEMMBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sgemm", abstract: "Measure OpenBLAS SGEMM and oneDNN bfloat16 GEMM GFLOPS.")

    @Option(help: "Matrix size n (n x n times n x n), 1 to 16384.")
    var size: Int = 2048
    @Option(help: "Timed runs.")
    var runs: Int = 5

    func validate() throws {
        try requireRange(size, 1...16384, option: "--size")
        try requireRange(runs, 1...1000, option: "--runs")
    }

    func run() throws {
        let n = size
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        let fp32 = Self.best(runs: runs) {
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        sgemm(m: n, n: n, k: n, a: pa.baseAddress!, lda: n, b: pb.baseAddress!, ldb: n,
                              c: pc.baseAddress!, ldc: n)
                    }
                }
            }
        }
        // The same product with bfloat16 inputs (float32 accumulation), as `--precision bf16` multiplies.
        let a16 = a.map(bfloat16Bits), b16 = b.map(bfloat16Bits)
        let gemm = try BFloat16GEMM.shared.get()
        let bf16 = Self.best(runs: runs) {
            a16.withUnsafeBufferPointer { pa in
                b16.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        bfloat16GEMM(m: n, n: n, k: n, a: pa.baseAddress!, lda: n, b: pb.baseAddress!, ldb: n,
                                     c: pc.baseAddress!, ldc: n)
                    }
                }
            }
        }
        let gflop = 2 * Double(n) * Double(n) * Double(n) / 1e9
        // Which kernels ran, and whether hidiff had to correct OpenBLAS's choice at start-up.
        let correction = OpenBLASCoreType.appliedCorrection
        let coretype = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        print(try jsonLine(["bench": "sgemm", "size": n, "best_s": fp32.wall, "gflops": gflop / fp32.wall,
                            "best_cpu_s": fp32.cpu, "gflops_per_cpu_s": gflop / fp32.cpu,
                            "openblas_corename": OpenBLASCoreType.corename, "openblas_config": OpenBLASCoreType.config,
                            "openblas_coretype_env": coretype ?? NSNull(),
                            "coretype_corrected": correction != nil,
                            "coretype_corrected_from": correction?.from ?? NSNull(),
                            "coretype_corrected_from_env": correction?.inherited ?? false,
                            "bf16_best_s": bf16.wall, "bf16_gflops": gflop / bf16.wall,
                            "bf16_gflops_per_cpu_s": gflop / bf16.cpu, "bf16_isa": BFloat16GEMM.instructionSet,
                            "bf16_native": BFloat16GEMM.isNative, "bf16_onednn": gemm.usesOneDNN]))
    }

    /// The best wall and CPU seconds of `runs` timed calls after one warm-up.
    private static func best(runs: Int, _ body: () -> Void) -> (wall: Double, cpu: Double) {
        var wall = Double.infinity, cpu = Double.infinity
        for _ in 0...runs {
            let (t0, c0) = (ProcessStats.now(), ProcessStats.cpuSeconds())
            body()
            wall = min(wall, ProcessStats.now() - t0)
            cpu = min(cpu, ProcessStats.cpuSeconds() - c0)
        }
        return (wall, cpu)
    }
}

/// One JSON object on one line with sorted keys (stable for scripts).
func jsonLine(_ object: [String: Any]) throws -> String {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self)
}
