import Dispatch
import HiDiffImage

/// The duplication benchmark (issue 5; reference `tools/train/eval_duplication.py`): for every size and mode,
/// one image per seed S..S+N-1, the objects of the prompt's colour counted, aggregated into table rows.
///
/// Seed S+i uses `prompts[i % prompts.count]` (every colour x shape of the demo model by default). HiDiffusion
/// is not run at or below the model's native size, as the reference skips it there: the table compares it
/// with direct inference above the training size.
public struct DuplicationBenchmark: Sendable {
    /// "a <colour> <shape>" for shape in circle, square, triangle and colour in red, green, blue, yellow,
    /// in the reference's order.
    public static let defaultPrompts: [String] = ["circle", "square", "triangle"].flatMap { shape in
        ["red", "green", "blue", "yellow"].map { "a \($0) \(shape)" }
    }

    /// Image sides in pixels, in table order.
    public var sizes: [Int]
    /// Modes per size, in table order.
    public var modes: [DuplicationMode]
    /// The first seed (S).
    public var seedBase: UInt64
    /// The number of seeds (N).
    public var seedCount: Int
    /// Cycled over the seeds; each must name a colour (`ObjectCounter.promptColour`).
    public var prompts: [String]
    public var counter: ObjectCounter

    public init(sizes: [Int], modes: [DuplicationMode] = DuplicationMode.allCases, seedBase: UInt64 = 0,
                seedCount: Int, prompts: [String] = DuplicationBenchmark.defaultPrompts,
                counter: ObjectCounter = ObjectCounter()) {
        self.sizes = sizes
        self.modes = modes
        self.seedBase = seedBase
        self.seedCount = seedCount
        self.prompts = prompts
        self.counter = counter
    }

    /// A progress report: one per generated image.
    public struct Progress: Sendable {
        /// 1-based position among all images of the run, and their number.
        public var index: Int
        public var total: Int
        public var size: Int
        public var mode: DuplicationMode
        public var sample: DuplicationSample
    }

    /// The (size, mode) cases that run on a model of `nativeSize` pixels, in table order.
    public func cases(nativeSize: Int) -> [(size: Int, mode: DuplicationMode)] {
        sizes.flatMap { size in
            modes.filter { $0 == .direct || size > nativeSize }.map { (size: size, mode: $0) }
        }
    }

    /// The prompt of seed number `i` (0-based from `seedBase`).
    public func prompt(at i: Int) -> String { prompts[i % prompts.count] }

    /// Throws `EvalError.invalidArgument` for an empty size, seed or prompt list, a non-positive size or a
    /// prompt without a colour word.
    public func validate() throws {
        guard !sizes.isEmpty else { throw EvalError.invalidArgument(name: "sizes", reason: "no size given") }
        for size in sizes where size <= 0 {
            throw EvalError.invalidArgument(name: "sizes", reason: "\(size) is not a positive number of pixels")
        }
        guard !modes.isEmpty else { throw EvalError.invalidArgument(name: "modes", reason: "no mode given") }
        guard seedCount >= 1 else {
            throw EvalError.invalidArgument(name: "seeds", reason: "\(seedCount): at least one seed is needed")
        }
        guard seedBase <= UInt64.max - UInt64(seedCount - 1) else {
            throw EvalError.invalidArgument(name: "seed-base", reason: "\(seedBase) + \(seedCount) seeds overflows 64 bits")
        }
        guard !prompts.isEmpty else { throw EvalError.invalidArgument(name: "prompt", reason: "no prompt given") }
        for p in prompts where ObjectCounter.promptColour(p) == nil {
            throw EvalError.invalidArgument(
                name: "prompt", reason: "\"\(p)\" names none of \(ObjectColour.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// Generates, counts and times every image; returns one case per (size, mode) in table order.
    /// `caseDone` is called as each case completes (to print its row early), `progress` after each image.
    public func run(with generator: any DuplicationGenerator,
                    progress: ((Progress) -> Void)? = nil,
                    caseDone: ((DuplicationCase) -> Void)? = nil) throws -> [DuplicationCase] {
        try validate()
        let plan = cases(nativeSize: generator.nativeSize)
        let total = plan.count * seedCount
        var done = 0
        var results: [DuplicationCase] = []
        for (size, mode) in plan {
            var samples: [DuplicationSample] = []
            for i in 0..<seedCount {
                let seed = seedBase + UInt64(i)
                let prompt = self.prompt(at: i)
                let start = DispatchTime.now().uptimeNanoseconds
                let image = try generator.generate(prompt: prompt, size: size, seed: seed, mode: mode)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                // validate() guarantees every prompt has a colour.
                let objects = counter.count(image: image, colour: ObjectCounter.promptColour(prompt)!)
                let sample = DuplicationSample(seed: seed, prompt: prompt, image: image, objects: objects, seconds: seconds)
                samples.append(sample)
                done += 1
                progress?(Progress(index: done, total: total, size: size, mode: mode, sample: sample))
            }
            let result = DuplicationCase(size: size, mode: mode, samples: samples)
            caseDone?(result)
            results.append(result)
        }
        return results
    }
}
