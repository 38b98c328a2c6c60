import CPNG

/// Writes 8-bit RGB PNGs with UTF-8 text metadata.
///
/// libpng's simplified API encodes the pixels (its errors come back as messages, not longjmp); the
/// text goes in as uncompressed iTXt chunks spliced in before the first IDAT, since that API cannot
/// write text.
public enum PNGWriter {
    /// Writes `image` to `path` (atomically) with `textChunks` as iTXt chunks, in order.
    ///
    /// Generation parameters go in a `parameters` chunk (A1111 style), the request JSON in `hidiff`.
    /// - Throws: `PNGError.invalidImage`, `.invalidTextChunk`, `.encodeFailed` or `.writeFailed`.
    public static func write(_ image: RGBImage, to path: String,
                             textChunks: [(key: String, value: String)] = []) throws {
        try PNGFile.write(try encode(image, textChunks: textChunks), to: path)
    }

    /// The PNG bytes of `image` with `textChunks` as iTXt chunks.
    public static func encode(_ image: RGBImage, textChunks: [(key: String, value: String)] = []) throws -> [UInt8] {
        guard image.width > 0, image.height > 0, image.width <= 0x7FFF_FFFF, image.height <= 0x7FFF_FFFF else {
            throw PNGError.invalidImage(reason: "size \(image.width)x\(image.height) cannot be stored as PNG")
        }
        guard image.pixels.count == image.width * image.height * 3 else {
            throw PNGError.invalidImage(reason: "\(image.width)x\(image.height) RGB needs "
                + "\(image.width * image.height * 3) bytes, found \(image.pixels.count)")
        }
        // Validate the text before spending time on compression.
        var text: [UInt8] = []
        for (key, value) in textChunks {
            text += PNGChunk.encode(type: "iTXt", data: try PNGText.iTXtData(key: key, value: value))
        }
        let png = try encodePixels(image)
        let chunks = try PNGChunk.parse(png, path: "<libpng output>")
        guard let idat = chunks.first(where: { $0.type == "IDAT" }) else {
            throw PNGError.encodeFailed(reason: "libpng produced no IDAT chunk")
        }
        return Array(png[..<idat.offset]) + text + Array(png[idat.offset...])
    }

    private static func encodePixels(_ rgb: RGBImage) throws(PNGError) -> [UInt8] {
        func makeImage() -> png_image {
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            image.width = UInt32(rgb.width)
            image.height = UInt32(rgb.height)
            image.format = UInt32(PNG_FORMAT_RGB)
            return image
        }
        // libpng's PNG_IMAGE_PNG_SIZE_MAX bound: zlib's worst case on the filtered rows plus chunk overhead.
        let raw = (rgb.width * 3 + 1) * rgb.height
        let zmax = raw + (raw + 7) >> 3 + (raw + 63) >> 6 + 11
        var capacity = 1024 + 12 * (zmax / 8192 + 1) + zmax
        for _ in 0..<2 {
            var image = makeImage()
            var out = [UInt8](repeating: 0, count: capacity)
            var size = capacity
            let ok = rgb.pixels.withUnsafeBytes { px in
                out.withUnsafeMutableBytes { dst in
                    png_image_write_to_memory(&image, dst.baseAddress, &size, 0, px.baseAddress, 0, nil)
                }
            }
            if ok != 0 {
                out.removeSubrange(size...)
                return out
            }
            // A larger size means only the buffer was too small; anything else is an encoding error.
            guard size > capacity else {
                let message = libpngMessage(&image)
                png_image_free(&image)
                throw .encodeFailed(reason: message)
            }
            png_image_free(&image)
            capacity = size
        }
        throw .encodeFailed(reason: "libpng needed more output space than it reported")
    }
}
