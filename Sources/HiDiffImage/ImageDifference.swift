import Foundation

/// How far apart two images of the same size are, over every channel value: the largest difference, the
/// mean difference, how many values differ, and PSNR (infinite when identical).
public struct ImageDifference: Sendable, Equatable, Codable {
    public let width: Int
    public let height: Int
    /// Largest |a - b| over all channel values (0...255).
    public let maxDifference: Int
    /// Mean |a - b| over all channel values.
    public let meanDifference: Double
    /// Channel values that differ at all.
    public let differingValues: Int
    /// 10 log10(255^2 / MSE) in dB; `.infinity` for identical images.
    public let psnr: Double

    /// Compares `a` with `b`; throws `ImageDifferenceError.sizeMismatch` unless their sizes agree.
    public init(_ a: RGBImage, _ b: RGBImage) throws {
        guard a.width == b.width, a.height == b.height else {
            throw ImageDifferenceError.sizeMismatch(a: "\(a.width)x\(a.height)", b: "\(b.width)x\(b.height)")
        }
        var maxDiff = 0, sum = 0, squares = 0, differing = 0
        a.pixels.withUnsafeBufferPointer { pa in
            b.pixels.withUnsafeBufferPointer { pb in
                for i in 0..<pa.count {
                    let d = abs(Int(pa[i]) - Int(pb[i]))
                    maxDiff = max(maxDiff, d)
                    sum += d
                    squares += d * d
                    if d != 0 { differing += 1 }
                }
            }
        }
        let n = Double(max(a.pixels.count, 1))
        width = a.width
        height = a.height
        maxDifference = maxDiff
        meanDifference = Double(sum) / n
        differingValues = differing
        psnr = squares == 0 ? .infinity : 10 * log10(255 * 255 / (Double(squares) / n))
    }
}

/// Why two images cannot be compared.
public enum ImageDifferenceError: Error, CustomStringConvertible, Equatable {
    case sizeMismatch(a: String, b: String)

    public var description: String {
        switch self {
        case let .sizeMismatch(a, b): "the images differ in size (\(a) and \(b)); only images of one size can be compared"
        }
    }
}
