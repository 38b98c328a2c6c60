/// Bounds on a submission as a whole (the request's own bounds are `GenerationLimits`).
public enum SubmissionLimits {
    /// The most jobs one submission may expand to (prompts x seeds).
    public static let maxJobs = 10_000
    public static let maxAttempts = 1...100
    public static let priority = -1_000_000...1_000_000
    /// Workers that render one job together.
    public static let workers = 1...64
    /// Characters in a batch name (one line).
    public static let maxBatchCharacters = 200
    /// Bytes of an init image.
    public static let maxInitImageBytes = 256 << 20
}
