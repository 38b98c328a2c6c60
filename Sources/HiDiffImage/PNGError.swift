/// Errors reading or writing PNG files; each names the file (or the offending text chunk).
public enum PNGError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but cannot be read.
    case unreadable(path: String, reason: String)
    /// The file does not start with the PNG signature.
    case notPNG(path: String)
    /// The PNG is damaged or unsupported (the reason is libpng's message or the chunk problem found).
    case corrupt(path: String, reason: String)
    /// The PNG header (IHDR) declares dimensions over the reader's limit; refused before any pixel is
    /// allocated or inflated.
    case tooLarge(path: String, width: Int, height: Int, maxSide: Int, maxPixels: Int)
    /// The image to write is inconsistent (size, pixel count).
    case invalidImage(reason: String)
    /// A text chunk cannot be written as given (keyword rules, NUL in the text).
    case invalidTextChunk(key: String, reason: String)
    /// libpng failed to encode the image.
    case encodeFailed(reason: String)
    /// Writing the file failed.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .fileNotFound(path): "file not found: \(path)"
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .notPNG(path): "\(path) is not a PNG file (no PNG signature)"
        case let .corrupt(path, reason): "cannot decode PNG \(path): \(reason)"
        case let .tooLarge(path, width, height, maxSide, maxPixels):
            "PNG \(path) declares \(width)x\(height) pixels, over the limit of \(maxSide) per side and "
                + "\(maxPixels) pixels in all; resize the image (e.g. to the generation size) and try again"
        case let .invalidImage(reason): "invalid image: \(reason)"
        case let .invalidTextChunk(key, reason): "invalid PNG text chunk '\(key)': \(reason)"
        case let .encodeFailed(reason): "PNG encoding failed: \(reason)"
        case let .writeFailed(path, reason): "cannot write \(path): \(reason)"
        }
    }
}
