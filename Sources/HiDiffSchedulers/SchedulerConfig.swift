import Foundation
import HiDiffCore

/// A diffusers `scheduler_config.json`. Every field is optional: a field the file does not set takes the
/// default of whichever scheduler is built from it (diffusers' `from_config` semantics).
public struct SchedulerConfig: Decodable, Sendable, Equatable {
    public var className: String?
    public var numTrainTimesteps: Int?
    public var betaStart: Double?
    public var betaEnd: Double?
    public var betaSchedule: String?
    public var trainedBetas: [Double]?
    public var predictionType: String?
    public var timestepSpacing: String?
    public var stepsOffset: Int?
    public var rescaleBetasZeroSnr: Bool?
    // PNDM / DDIM
    public var skipPrkSteps: Bool?
    public var setAlphaToOne: Bool?
    public var clipSample: Bool?
    public var clipSampleRange: Double?
    public var thresholding: Bool?
    // Euler / DPM-Solver
    public var interpolationType: String?
    public var useKarrasSigmas: Bool?
    public var sigmaMin: Double?
    public var sigmaMax: Double?
    public var timestepType: String?
    public var finalSigmasType: String?
    public var solverOrder: Int?
    public var algorithmType: String?
    public var solverType: String?
    public var lowerOrderFinal: Bool?
    public var eulerAtFinal: Bool?
    public var useLuLambdas: Bool?
    public var lambdaMinClipped: Double?
    public var varianceType: String?

    enum CodingKeys: String, CodingKey {
        case className = "_class_name"
        case numTrainTimesteps = "num_train_timesteps"
        case betaStart = "beta_start"
        case betaEnd = "beta_end"
        case betaSchedule = "beta_schedule"
        case trainedBetas = "trained_betas"
        case predictionType = "prediction_type"
        case timestepSpacing = "timestep_spacing"
        case stepsOffset = "steps_offset"
        case rescaleBetasZeroSnr = "rescale_betas_zero_snr"
        case skipPrkSteps = "skip_prk_steps"
        case setAlphaToOne = "set_alpha_to_one"
        case clipSample = "clip_sample"
        case clipSampleRange = "clip_sample_range"
        case thresholding
        case interpolationType = "interpolation_type"
        case useKarrasSigmas = "use_karras_sigmas"
        case sigmaMin = "sigma_min"
        case sigmaMax = "sigma_max"
        case timestepType = "timestep_type"
        case finalSigmasType = "final_sigmas_type"
        case solverOrder = "solver_order"
        case algorithmType = "algorithm_type"
        case solverType = "solver_type"
        case lowerOrderFinal = "lower_order_final"
        case eulerAtFinal = "euler_at_final"
        case useLuLambdas = "use_lu_lambdas"
        case lambdaMinClipped = "lambda_min_clipped"
        case varianceType = "variance_type"
    }

    /// An empty configuration: every field takes the scheduler's default.
    public init() {}

    /// Decodes `data` (JSON; `Infinity`/`-Infinity`, which Python's json writes for
    /// `lambda_min_clipped`, are accepted) and range-checks it (`checkValues(file:)`).
    public init(jsonData data: Data) throws {
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        self = try decoder.decode(SchedulerConfig.self, from: data)
        try checkValues(file: "scheduler config")
    }

    /// Reads a `scheduler_config.json` file and range-checks it; errors name `path`.
    public init(contentsOf path: String) throws {
        let data: Data
        do {
            data = try RegularFile.read(path, maxBytes: 16 << 20)
        } catch {
            throw SchedulerError.unreadableConfig(path: path, reason: (error as? RegularFileError)?.reason ?? "\(error)")
        }
        do {
            let decoder = JSONDecoder()
            decoder.allowsJSON5 = true
            self = try decoder.decode(SchedulerConfig.self, from: data)
        } catch let error as DecodingError {
            throw SchedulerError.unreadableConfig(path: path, reason: "\(error)")
        }
        try checkValues(file: path)
    }

    /// The scheduler kind `_class_name` names (the pipeline's default scheduler).
    public func defaultKind() throws -> SchedulerKind {
        guard let name = className, let kind = SchedulerKind(className: name) else {
            throw SchedulerError.unknownClass(className)
        }
        return kind
    }
}
