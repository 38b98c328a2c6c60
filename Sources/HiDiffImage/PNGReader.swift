import CPNG

/// Reads PNG files: pixels through libpng's simplified API, text chunks by walking the chunks.
public enum PNGReader {
    /// Reads any PNG (gray, palette, RGB, with or without alpha, 1 to 16 bits) as 8-bit RGB.
    ///
    /// Alpha is dropped, not composited, like PIL's `convert("RGB")` (what diffusers' `load_image`
    /// does); 16-bit samples without gamma information are taken as sRGB and scaled to 8 bits.
    ///
    /// - Throws: `PNGError.fileNotFound`, `.unreadable`, `.notPNG`, `.tooLarge` (checked before decoding), or
    ///   `.corrupt` with libpng's message.
    public static func read(_ path: String) throws -> RGBImage {
        try decode(try PNGFile.read(path), name: path)
    }

    /// Reads PNG bytes held in memory (e.g. an init image received over the network) as 8-bit RGB, exactly
    /// as `read(_:)` reads a file: the same as `decode(_:name:)`.
    ///
    /// - Throws: `PNGError.notPNG`, `.tooLarge` (checked before decoding) or `.corrupt` with libpng's message.
    public static func read(bytes: [UInt8], name: String = "<memory>") throws -> RGBImage {
        try decode(bytes, name: name)
    }

    /// Largest width or height `decode` accepts.
    public static let maxSide = 16384
    /// Largest width * height `decode` accepts.
    public static let maxPixels = 16384 * 16384

    /// Decodes PNG bytes; `name` is used in error messages. The IHDR dimensions are checked first:
    /// an image over `maxSide` per side or `maxPixels` in all throws `PNGError.tooLarge` before anything
    /// is allocated or inflated.
    public static func decode(_ bytes: [UInt8], name: String = "<memory>") throws -> RGBImage {
        guard PNGChunk.hasSignature(bytes) else { throw PNGError.notPNG(path: name) }
        try checkDeclaredSize(bytes, name: name)
        return try bytes.withUnsafeBytes { (raw) throws(PNGError) -> RGBImage in
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            // libpng keeps the pointer until finish_read, so both calls stay inside this closure.
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
                let message = libpngMessage(&image)
                png_image_free(&image)
                throw .corrupt(path: name, reason: message)
            }
            let hasAlpha = image.format & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
            // Keep alpha and drop it below: asking libpng for RGB would composite onto a background.
            image.format = UInt32(hasAlpha ? PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA : PNG_FORMAT_RGB)   // RGBA or RGB
            image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
            let width = Int(image.width), height = Int(image.height), channels = hasAlpha ? 4 : 3
            let (size, overflow) = width.multipliedReportingOverflow(by: height * channels)
            guard !overflow, size <= Int(Int32.max) else {
                png_image_free(&image)
                throw .corrupt(path: name, reason: "image size \(width)x\(height) is too large")
            }
            var buffer = [UInt8](repeating: 0, count: size)
            let ok = buffer.withUnsafeMutableBytes {
                png_image_finish_read(&image, nil, $0.baseAddress, 0, nil)
            }
            guard ok != 0 else {
                let message = libpngMessage(&image)
                png_image_free(&image)
                throw .corrupt(path: name, reason: message)
            }
            if !hasAlpha { return RGBImage(width: width, height: height, pixels: buffer) }
            var rgb = [UInt8](repeating: 0, count: width * height * 3)
            for i in 0..<(width * height) {
                rgb[3 * i] = buffer[4 * i]
                rgb[3 * i + 1] = buffer[4 * i + 1]
                rgb[3 * i + 2] = buffer[4 * i + 2]
            }
            return RGBImage(width: width, height: height, pixels: rgb)
        }
    }

    /// The text chunks (tEXt, zTXt, iTXt, compressed or not) of the PNG at `path`, in file order.
    ///
    /// - Throws: `PNGError.fileNotFound`, `.notPNG`, or `.corrupt` for a damaged chunk.
    public static func textChunks(_ path: String) throws -> [(key: String, value: String)] {
        try textChunks(in: try PNGFile.read(path), name: path)
    }

    /// The text chunks of PNG bytes; `name` is used in error messages.
    public static func textChunks(in bytes: [UInt8], name: String = "<memory>") throws -> [(key: String, value: String)] {
        try PNGChunk.parse(bytes, path: name).compactMap { (c) throws(PNGError) in try PNGText.decode(c, path: name) }
    }

    /// The value of the first text chunk named `key`, or nil.
    public static func text(_ key: String, in path: String) throws -> String? {
        try textChunks(path).first { $0.key == key }?.value
    }
}

extension PNGReader {
    /// The width and height the PNG's IHDR declares, read without decoding anything; nil when the bytes do
    /// not start with an IHDR.
    public static func declaredSize(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        // Signature (8), length (4), "IHDR" (4), width (4), height (4).
        guard bytes.count >= 24, bytes[12] == 0x49, bytes[13] == 0x48, bytes[14] == 0x44, bytes[15] == 0x52 else {
            return nil
        }
        return (Int(PNGChunk.readUInt32(bytes, 16)), Int(PNGChunk.readUInt32(bytes, 20)))
    }

    /// Refuses an IHDR that declares more than `maxSide` per side or `maxPixels` in all. A file without a
    /// readable IHDR first is left to libpng, which reports it as corrupt.
    static func checkDeclaredSize(_ bytes: [UInt8], name: String) throws(PNGError) {
        guard let (width, height) = declaredSize(bytes) else { return }
        if width > maxSide || height > maxSide || width * height > maxPixels {
            throw .tooLarge(path: name, width: width, height: height, maxSide: maxSide, maxPixels: maxPixels)
        }
    }
}

/// libpng's error message from a simplified-API image.
func libpngMessage(_ image: inout png_image) -> String {
    withUnsafeBytes(of: &image.message) { raw in
        let chars = raw.prefix { $0 != 0 }
        let text = String(decoding: chars, as: UTF8.self)
        return text.isEmpty ? "libpng reported an error without a message" : text
    }
}
