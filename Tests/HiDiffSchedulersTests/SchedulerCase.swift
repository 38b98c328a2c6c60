import Foundation
import HiDiffCore
import HiDiffSchedulers

/// One entry of `schedulers.json` (written by tools/reference/schedulers_ref.py). Decoded with
/// `JSONDecoder`, whose number parsing is exact (Linux `JSONSerialization` is not).
struct SchedulerCase: Decodable, Sendable {
    var name = ""
    let kind: SchedulerKind
    let karras: Bool
    let config: SchedulerConfig
    let steps: Int
    let timesteps: [Double]
    let sigmas: [Double]?
    let initNoiseSigma: Double
    let seed: UInt64
    let eta: Double?
    let strength: Double?
    let startIndex: Int?
    let runCount: Int
    let trajectory: Bool

    enum CodingKeys: String, CodingKey {
        case kind, karras, config, steps, timesteps, sigmas, seed, eta, strength, trajectory
        case initNoiseSigma = "init_noise_sigma"
        case startIndex = "start_index"
        case runCount = "run_count"
    }

    /// The synthetic U-Net of the reference script: coefficients for loop step `k`, as float32 scalars.
    static func coefficients(_ k: Int) -> (Float, Float) {
        (Float(0.05 + 0.01 * Double(k % 7)), Float(0.9 - 0.02 * Double(k % 5)))
    }
}

/// Everything the scheduler fixtures hold, loaded once.
struct SchedulerFixtures: Sendable {
    struct ScheduleEntry: Decodable, Sendable { let config: SchedulerConfig }
    struct File: Decodable, Sendable {
        let schedulers: [String: SchedulerCase]
        let alphasCumprod: [String: ScheduleEntry]
        enum CodingKeys: String, CodingKey {
            case schedulers
            case alphasCumprod = "alphas_cumprod"
        }
    }

    let cases: [SchedulerCase]
    let tensors: [String: Tensor]
    let alphasCumprodConfigs: [String: SchedulerConfig]

    static let shared = Result { try SchedulerFixtures() }

    init() throws {
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: FixtureFiles.url("schedulers.json")))
        cases = file.schedulers.keys.sorted().map { name in
            var c = file.schedulers[name]!
            c.name = name
            return c
        }
        alphasCumprodConfigs = file.alphasCumprod.mapValues(\.config)
        tensors = try FixtureFiles.safetensors("schedulers.safetensors")
    }

    func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw FixtureError.missing("schedulers.safetensors: \(name)") }
        return t
    }
}
