/// The schedulers hidiff implements, named as on the command line.
public enum SchedulerKind: String, CaseIterable, Sendable, Codable {
    /// `PNDMScheduler` (PLMS; Stable Diffusion 1.x's default).
    case pndm
    /// `DDIMScheduler`.
    case ddim
    /// `EulerDiscreteScheduler` (optionally with Karras sigmas).
    case euler
    /// `EulerAncestralDiscreteScheduler`.
    case eulerAncestral = "euler-a"
    /// `DPMSolverMultistepScheduler` (DPM-Solver++ 2M; optionally with Karras sigmas).
    case dpmSolverMultistep = "dpm++2m"

    /// The diffusers class this kind reproduces.
    public var className: String {
        switch self {
        case .pndm: "PNDMScheduler"
        case .ddim: "DDIMScheduler"
        case .euler: "EulerDiscreteScheduler"
        case .eulerAncestral: "EulerAncestralDiscreteScheduler"
        case .dpmSolverMultistep: "DPMSolverMultistepScheduler"
        }
    }

    /// Whether the kind can use Karras sigmas (`use_karras_sigmas`).
    public var supportsKarras: Bool { self == .euler || self == .dpmSolverMultistep }

    /// The kind whose diffusers class is `className`, if hidiff implements it.
    public init?(className: String) {
        guard let kind = Self.allCases.first(where: { $0.className == className }) else { return nil }
        self = kind
    }

    /// Builds this scheduler from a diffusers scheduler config and runs `set_timesteps(steps)`.
    ///
    /// Fields absent from `config` take this kind's own diffusers defaults, as
    /// `<Class>.from_config(pipe.scheduler.config)` does. `karras: true` forces `use_karras_sigmas`
    /// (an error for kinds without Karras sigmas); `false` keeps the config's value.
    /// `eta` is DDIM's stochasticity (the pipeline's `eta`), ignored by the other kinds.
    public func makeScheduler(config: SchedulerConfig, steps: Int, karras: Bool = false,
                              eta: Float = 0) throws -> any Scheduler {
        var config = config
        if karras {
            guard supportsKarras else {
                throw SchedulerError.unsupported(scheduler: className, field: "use_karras_sigmas", value: "true")
            }
            config.useKarrasSigmas = true
        }
        switch self {
        case .pndm: return try PNDMScheduler(config: config, steps: steps)
        case .ddim: return try DDIMScheduler(config: config, steps: steps, eta: eta)
        case .euler: return try EulerDiscreteScheduler(config: config, steps: steps)
        case .eulerAncestral: return try EulerAncestralScheduler(config: config, steps: steps)
        case .dpmSolverMultistep: return try DPMSolverMultistepScheduler(config: config, steps: steps)
        }
    }
}
