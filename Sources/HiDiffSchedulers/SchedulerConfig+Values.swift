extension SchedulerConfig {
    /// Largest `num_train_timesteps` accepted (released models use 1000; the tables are this long).
    public static let maxTrainTimesteps = 100_000

    /// Range-checks the fields every scheduler builds its noise schedule from, so a bad file is refused with
    /// the field named instead of aborting on a huge allocation or producing NaN latents:
    /// `num_train_timesteps` in 1...100000, `beta_start`/`beta_end` finite in (0, 1) with start <= end
    /// (diffusers' defaults 0.0001 and 0.02 fill an absent one), `trained_betas` finite in [0, 1],
    /// `steps_offset` in 0..<num_train_timesteps, and finite sigma/clip bounds.
    ///
    /// - Parameter file: the config file named in the error.
    /// - Throws: `SchedulerError.outOfRange` naming the file and the first bad field.
    public func checkValues(file: String) throws {
        func fail(_ field: String, _ value: String, _ expected: String) -> SchedulerError {
            .outOfRange(file: file, field: field, value: value, expected: expected)
        }
        let n = numTrainTimesteps ?? 1000
        guard (1...Self.maxTrainTimesteps).contains(n) else {
            throw fail("num_train_timesteps", "\(n)", "1...\(Self.maxTrainTimesteps) (usually 1000)")
        }
        for (field, value) in [("beta_start", betaStart), ("beta_end", betaEnd)] {
            if let value, !(value.isFinite && value > 0 && value < 1) {
                throw fail(field, "\(value)", "a finite number in (0, 1)")
            }
        }
        let start = betaStart ?? 0.0001, end = betaEnd ?? 0.02
        if start > end {
            throw fail(betaStart == nil ? "beta_end" : "beta_start", "\(betaStart == nil ? end : start)",
                       "beta_start (\(start)) <= beta_end (\(end))")
        }
        if let trainedBetas, let bad = trainedBetas.first(where: { !($0.isFinite && $0 >= 0 && $0 <= 1) }) {
            throw fail("trained_betas", "an entry \(bad)", "finite values in [0, 1]")
        }
        if let stepsOffset, !(0..<n).contains(stepsOffset) {
            throw fail("steps_offset", "\(stepsOffset)", "0..<num_train_timesteps (\(n)); usually 0 or 1")
        }
        for (field, value) in [("sigma_min", sigmaMin), ("sigma_max", sigmaMax)] {
            if let value, !(value.isFinite && value >= 0) {
                throw fail(field, "\(value)", "a finite non-negative number or null")
            }
        }
        if let clipSampleRange, !(clipSampleRange.isFinite && clipSampleRange > 0) {
            throw fail("clip_sample_range", "\(clipSampleRange)", "a finite positive number")
        }
    }
}
