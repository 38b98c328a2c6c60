import HiDiffImage

/// What the benchmark generates with: a model behind a text-to-image call at a square size.
public protocol DuplicationGenerator {
    /// The model's native image side in pixels (HiDiffusion is not run at or below it).
    var nativeSize: Int { get }
    /// One `size` x `size` image of `prompt` from `seed`, direct or with HiDiffusion.
    func generate(prompt: String, size: Int, seed: UInt64, mode: DuplicationMode) throws -> RGBImage
}
