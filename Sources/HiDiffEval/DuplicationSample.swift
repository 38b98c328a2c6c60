import HiDiffImage

/// One generated image of the benchmark and what the counter found in it.
public struct DuplicationSample: Sendable, Equatable {
    public var seed: UInt64
    public var prompt: String
    public var image: RGBImage
    /// Objects of the prompt's colour (`ObjectCounter.count`).
    public var objects: Int
    /// Wall-clock seconds the generation took.
    public var seconds: Double

    public init(seed: UInt64, prompt: String, image: RGBImage, objects: Int, seconds: Double) {
        self.seed = seed
        self.prompt = prompt
        self.image = image
        self.objects = objects
        self.seconds = seconds
    }
}
