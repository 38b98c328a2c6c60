/// One line of the duplication table: every seed of one (size, mode) case, aggregated.
///
/// Encodes as `{"size", "mode", "images", "dup_rate", "mean_objects", "seconds_per_image"}` (the JSON of
/// `hidiff eval duplication --json` and of `eval_duplication.py`).
public struct DuplicationRow: Codable, Sendable, Equatable {
    /// Image side in pixels (square images).
    public var size: Int
    public var mode: DuplicationMode
    /// Number of images (seeds).
    public var images: Int
    /// The share of images with more than one object of the prompt's colour, in 0...1.
    public var dupRate: Double
    /// The mean number of objects of the prompt's colour per image.
    public var meanObjects: Double
    /// Wall-clock seconds per image (denoising and decoding; counting excluded).
    public var secondsPerImage: Double

    public init(size: Int, mode: DuplicationMode, images: Int, dupRate: Double, meanObjects: Double,
                secondsPerImage: Double) {
        self.size = size
        self.mode = mode
        self.images = images
        self.dupRate = dupRate
        self.meanObjects = meanObjects
        self.secondsPerImage = secondsPerImage
    }

    /// The row of a case whose images have `counts` objects each and took `seconds` in all.
    /// An empty case has zero rates (and zero images).
    public init(size: Int, mode: DuplicationMode, counts: [Int], seconds: Double) {
        let n = counts.count
        let dup = counts.filter { $0 > 1 }.count
        let total = counts.reduce(0, +)
        self.init(size: size, mode: mode, images: n,
                  dupRate: n > 0 ? Double(dup) / Double(n) : 0,
                  meanObjects: n > 0 ? Double(total) / Double(n) : 0,
                  secondsPerImage: n > 0 ? seconds / Double(n) : 0)
    }

    enum CodingKeys: String, CodingKey {
        case size, mode, images
        case dupRate = "dup_rate"
        case meanObjects = "mean_objects"
        case secondsPerImage = "seconds_per_image"
    }
}
