/// diffusers' `timestep_spacing`: how inference timesteps are picked among the training timesteps
/// (table 2 of "Common Diffusion Noise Schedules and Sample Steps are Flawed").
enum TimestepSpacing: String, Sendable {
    case leading, trailing, linspace

    init(_ value: String?, default fallback: TimestepSpacing, scheduler: String) throws {
        let raw = value ?? fallback.rawValue
        guard let spacing = TimestepSpacing(rawValue: raw) else {
            throw SchedulerError.invalid(scheduler: scheduler, field: "timestep_spacing", value: raw,
                                         expected: "leading, trailing or linspace")
        }
        self = spacing
    }

    /// The integer timesteps, descending, that DDIM and (reversed) PNDM use.
    func integerTimesteps(steps: Int, trainSteps: Int, offset: Int) -> [Int] {
        switch self {
        case .linspace:
            return NumPy.linspace(0, Double(trainSteps - 1), steps).map { Int(NumPy.round($0)) }.reversed()
        case .leading:
            let ratio = trainSteps / steps
            return (0..<steps).map { $0 * ratio + offset }.reversed()
        case .trailing:
            let ratio = Double(trainSteps) / Double(steps)
            return NumPy.arange(Double(trainSteps), 0, -ratio).map { Int(NumPy.round($0)) - 1 }
        }
    }

    /// The float32 timesteps, descending, that the Euler schedulers use.
    func floatTimesteps(steps: Int, trainSteps: Int, offset: Int) -> [Float] {
        switch self {
        case .linspace:
            return NumPy.linspace(0, Double(trainSteps - 1), steps).map { Float($0) }.reversed()
        case .leading:
            let ratio = trainSteps / steps
            return (0..<steps).map { Float($0 * ratio) + Float(offset) }.reversed()
        case .trailing:
            let ratio = Double(trainSteps) / Double(steps)
            return NumPy.arange(Double(trainSteps), 0, -ratio).map { Float(NumPy.round($0)) - 1 }
        }
    }
}
