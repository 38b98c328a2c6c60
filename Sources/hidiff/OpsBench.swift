import ArgumentParser
import Foundation
import HiDiffCore

/// Times each tensor kernel at the sizes a full SD 1.5 U-Net forward uses (batch 2, 512x512 = 64x64 latent,
/// and the 1024x1024 self-attention), one JSON line per kernel.
///
/// CPU seconds (all threads) are reported next to wall seconds: on a shared machine the CPU time per call
/// and the GEMM GFLOPS per CPU-second are the stable figures.
struct OpsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops", abstract: "Time each kernel at SD 1.5 U-Net sizes; one JSON line per kernel.")

    @Option(help: "Only kernels whose name contains this text.")
    var filter: String?
    @Option(help: "Timed runs per kernel (after one warm-up run); the median is reported.")
    var runs: Int = 3
    @Flag(help: "Also time the 16384-token (1024x1024) self-attention.")
    var large = false
    @Flag(help: "List the kernel names and exit.")
    var list = false
    @Option(help: "Arithmetic of convolutions, linear layers and attention: fp32 or bf16.")
    var precision: Precision = .fp32

    func validate() throws {
        try requireRange(runs, 1...1000, option: "--runs")
    }

    func run() throws {
        try precision.checkAvailable()
        let cases = OpsBench.cases(large: large, precision: precision).filter { c in filter.map { c.name.contains($0) } ?? true }
        if list {
            for c in cases { print(c.name) }
            return
        }
        for c in cases {
            let body = c.make()
            var walls: [Double] = [], cpus: [Double] = []
            var flops = 0
            for i in 0...runs {
                let f0 = gemmFlopCounter.load(ordering: .relaxed)
                let (w0, c0) = (ProcessStats.now(), ProcessStats.cpuSeconds())
                body()
                let (w1, c1) = (ProcessStats.now(), ProcessStats.cpuSeconds())
                if i > 0 {
                    walls.append(w1 - w0)
                    cpus.append(c1 - c0)
                    flops = gemmFlopCounter.load(ordering: .relaxed) - f0
                }
            }
            let wall = walls.sorted()[walls.count / 2], cpu = cpus.sorted()[cpus.count / 2]
            var line: [String: Any] = [
                "bench": "ops", "kernel": c.name, "runs": runs, "precision": precision.rawValue,
                "median_wall_s": wall, "median_cpu_s": cpu, "min_cpu_s": cpus.min()!,
                "gemm_gflop": Double(flops) / 1e9,
            ]
            if flops > 0 { line["gemm_gflops_per_cpu_s"] = Double(flops) / 1e9 / cpu }
            if c.bytes > 0 { line["gb_per_cpu_s"] = Double(c.bytes) / 1e9 / cpu }
            print(try jsonLine(line))
            fflush(stdout)
        }
    }

    /// One kernel call: a name, the minimal memory traffic of one call in bytes (0: not memory-bound), and
    /// a factory that allocates the inputs and returns the call.
    struct Case {
        var name: String
        var bytes: Int = 0
        var make: () -> () -> Void
    }

    /// Deterministic pseudo-random values in [-1, 1) (cheap; the values only need to be non-degenerate).
    static func random(_ shape: [Int], seed: UInt64 = 1, scale: Float = 1) -> Tensor {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return Tensor(shape: shape) { buf in
            for i in buf.indices {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                buf[i] = (Float(state >> 40) / Float(1 << 23) - 1) * scale
            }
        }
    }

    static func conv(_ name: String, n: Int = 2, c: Int, o: Int, h: Int, k: Int, stride: Int = 1,
                     precision: Precision) -> Case {
        Case(name: name) {
            let x = random([n, c, h, h])
            let w = LayerWeight(random([o, c, k, k], seed: 2, scale: 0.05), precision: precision)
            let b = random([o], seed: 3)
            return { _ = x.conv2d(weight: w, bias: b, stride: stride, padding: k / 2) }
        }
    }

    static func elementwise(_ name: String, shape: [Int], reads: Int = 1, _ op: @escaping (Tensor) -> Tensor) -> Case {
        Case(name: name, bytes: shape.reduce(4, *) * (reads + 1)) {
            let x = random(shape)
            return { _ = op(x) }
        }
    }

    static func linear(_ name: String, rows: Int, inF: Int, outF: Int, precision: Precision) -> Case {
        Case(name: name) {
            let x = random([2, rows / 2, inF])
            let w = LayerWeight(random([outF, inF], seed: 2, scale: 0.05), precision: precision)
            let b = random([outF], seed: 3)
            return { _ = x.linear(weight: w, bias: b) }
        }
    }

    /// A transformer block's GEGLU feed-forward (dim -> 8 dim -> GEGLU -> 4 dim -> dim), as the U-Net runs it.
    static func feedForward(_ name: String, rows: Int, dim: Int, precision: Precision) -> Case {
        Case(name: name) {
            let x = random([2, rows / 2, dim])
            let w1 = LayerWeight(random([8 * dim, dim], seed: 2, scale: 0.05), precision: precision)
            let w2 = LayerWeight(random([dim, 4 * dim], seed: 4, scale: 0.05), precision: precision)
            let b1 = random([8 * dim], seed: 3), b2 = random([dim], seed: 5)
            return { _ = x.feedForwardGEGLU(proj: w1, projBias: b1, out: w2, outBias: b2) }
        }
    }

    static func attention(_ name: String, tokens: Int, keys: Int?, channels: Int = 320, heads: Int = 8,
                          precision: Precision) -> Case {
        Case(name: name) {
            let q = random([2, tokens, channels])
            let k = random([2, keys ?? tokens, channels], seed: 2), v = random([2, keys ?? tokens, channels], seed: 3)
            return { _ = Tensor.attention(query: q, key: k, value: v, heads: heads, precision: precision) }
        }
    }

    static func cases(large: Bool, precision: Precision) -> [Case] {
        let act320 = [2, 320, 64, 64]
        var all: [Case] = [
            conv("conv3x3_320_64x64", c: 320, o: 320, h: 64, k: 3, precision: precision),
            conv("conv3x3_640to320_64x64", c: 640, o: 320, h: 64, k: 3, precision: precision),
            conv("conv3x3_640_32x32", c: 640, o: 640, h: 32, k: 3, precision: precision),
            conv("conv3x3_1280_16x16", c: 1280, o: 1280, h: 16, k: 3, precision: precision),
            conv("conv3x3_1280_8x8", c: 1280, o: 1280, h: 8, k: 3, precision: precision),
            conv("conv3x3s2_320_64x64", c: 320, o: 320, h: 64, k: 3, stride: 2, precision: precision),
            conv("conv3x3_4to320_64x64", c: 4, o: 320, h: 64, k: 3, precision: precision),
            conv("conv1x1_320_64x64", c: 320, o: 320, h: 64, k: 1, precision: precision),
            conv("conv1x1_1280_16x16", c: 1280, o: 1280, h: 16, k: 1, precision: precision),
            elementwise("groupnorm_320_64x64", shape: act320) {
                $0.groupNorm(groups: 32, weight: nil, bias: nil, eps: 1e-5)
            },
            elementwise("silu_320_64x64", shape: act320) { $0.silu() },
            elementwise("groupnorm_silu_320_64x64", shape: act320) {
                $0.groupNormSiLU(groups: 32, weight: nil, bias: nil, eps: 1e-5)
            },
            elementwise("add_320_64x64", shape: act320, reads: 2) { $0 + $0 },
            elementwise("add_channelwise_320_64x64", shape: act320) {
                $0.addingChannelwise(Tensor(repeating: 0.5, shape: [2, 320]))
            },
            elementwise("nchw_to_tokens_320_64x64", shape: act320) { $0.nchwToTokens() },
            elementwise("tokens_to_nchw_320_64x64", shape: [2, 4096, 320]) {
                $0.tokensToNCHW(height: 64, width: 64)
            },
            elementwise("concat_640+320_64x64", shape: act320, reads: 2) {
                Tensor.concat([$0, $0], axis: 1)
            },
            elementwise("upsample_nearest_1280_16to32", shape: [2, 1280, 16, 16], reads: 4) {
                $0.upsampleNearest(height: 32, width: 32)
            },
            elementwise("layernorm_8192x320", shape: [2, 4096, 320]) {
                $0.layerNorm(weight: nil, bias: nil, eps: 1e-5)
            },
            elementwise("geglu_8192x2560", shape: [2, 4096, 2560]) { $0.geglu() },
            elementwise("softmax_4096x4096", shape: [4096, 4096]) { $0.softmaxLastAxis() },
            linear("linear_8192x320_to_320", rows: 8192, inF: 320, outF: 320, precision: precision),
            linear("linear_8192x320_to_2560", rows: 8192, inF: 320, outF: 2560, precision: precision),
            linear("linear_8192x1280_to_320", rows: 8192, inF: 1280, outF: 320, precision: precision),
            feedForward("feedforward_8192x320", rows: 8192, dim: 320, precision: precision),
            feedForward("feedforward_2048x640", rows: 2048, dim: 640, precision: precision),
            feedForward("feedforward_512x1280", rows: 512, dim: 1280, precision: precision),
            feedForward("feedforward_2048x1280", rows: 2048, dim: 1280, precision: precision),
            attention("attention_self_4096x320", tokens: 4096, keys: nil, precision: precision),
            attention("attention_cross_4096x77", tokens: 4096, keys: 77, precision: precision),
            attention("attention_self_1024x640", tokens: 1024, keys: nil, channels: 640, precision: precision),
            // The demo model's top level at 256 px: two heads of 16.
            attention("attention_self_4096x32_narrow", tokens: 4096, keys: nil, channels: 32, heads: 2,
                      precision: precision),
        ]
        if large {
            all.append(attention("attention_self_16384x320", tokens: 16384, keys: nil, precision: precision))
            all.append(attention("attention_cross_16384x77", tokens: 16384, keys: 77, precision: precision))
        }
        return all
    }
}
