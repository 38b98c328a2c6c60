/// The bounds every generation request is held to, wherever it comes from (`generate`, `eval`, `submit`, a
/// worker's assignment): checked by `GenerationRequest.problem()` before any work or allocation.
///
/// They bound what a request can make the engine allocate or loop over, so no value a user (or a peer on the
/// network) sends can overflow a size, run without bound or turn into an infinity in `Float`.
public enum GenerationLimits {
    /// Largest image side in pixels (also the PNG reader's limit).
    public static let maxSide = 16384
    /// Sides are multiples of this (every supported VAE's factor divides it).
    public static let sideMultiple = 8
    /// Denoising steps.
    public static let steps = 1...1000
    /// Largest |guidance scale|: far above any useful value, and finite in `Float` with room to spare.
    public static let maxGuidance = 1000.0
    /// Largest prompt, in UTF-8 bytes (the tokenizer keeps 77 tokens; this bounds the work before it cuts).
    public static let maxPromptBytes = 65536
}
