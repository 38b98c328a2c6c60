import HiDiffImage

/// A grid of the benchmark's images: one row per (size, mode) case in table order, one column per seed,
/// every image scaled (nearest neighbour) to a `cellSize` square.
///
/// The only labels are the object counts: under each image, one dark 3x3 mark per object the counter found
/// (a red bar when there are more than fit). The rows are those of the table, top to bottom.
public struct ContactSheet: Sendable {
    /// The side of each image cell, in pixels.
    public var cellSize: Int
    /// White space between and around cells.
    public var padding: Int

    public init(cellSize: Int = 128, padding: Int = 4) {
        precondition(cellSize > 0 && padding >= 0, "cell \(cellSize), padding \(padding)")
        self.cellSize = cellSize
        self.padding = padding
    }

    /// Height of the strip of count marks under each cell.
    static let markStrip = 6

    /// The sheet of `cases`: white background, `cases.count` rows.
    public func render(_ cases: [DuplicationCase]) -> RGBImage {
        let columns = max(1, cases.map(\.samples.count).max() ?? 1)
        let rowHeight = cellSize + Self.markStrip + padding
        let width = padding + columns * (cellSize + padding)
        let height = padding + max(1, cases.count) * rowHeight
        var sheet = RGBImage(width: width, height: height, red: 255, green: 255, blue: 255)
        for (r, c) in cases.enumerated() {
            let y0 = padding + r * rowHeight
            for (k, sample) in c.samples.enumerated() {
                let x0 = padding + k * (cellSize + padding)
                blit(sample.image, into: &sheet, x0: x0, y0: y0)
                drawMarks(count: sample.objects, into: &sheet, x0: x0, y0: y0 + cellSize + 1)
            }
        }
        return sheet
    }

    /// `image` scaled to `cellSize` x `cellSize` by nearest neighbour (PIL's: source pixel
    /// floor((x + 0.5) * source / cell)).
    public func scaled(_ image: RGBImage) -> RGBImage {
        var out = RGBImage(width: cellSize, height: cellSize)
        guard image.width > 0, image.height > 0 else { return out }
        for y in 0..<cellSize {
            let sy = (2 * y + 1) * image.height / (2 * cellSize)
            for x in 0..<cellSize {
                let sx = (2 * x + 1) * image.width / (2 * cellSize)
                let s = (sy * image.width + sx) * 3, d = (y * cellSize + x) * 3
                out.pixels[d] = image.pixels[s]
                out.pixels[d + 1] = image.pixels[s + 1]
                out.pixels[d + 2] = image.pixels[s + 2]
            }
        }
        return out
    }

    func blit(_ image: RGBImage, into sheet: inout RGBImage, x0: Int, y0: Int) {
        let cell = scaled(image)
        for y in 0..<cellSize {
            let d = ((y0 + y) * sheet.width + x0) * 3
            sheet.pixels.replaceSubrange(d..<(d + cellSize * 3),
                                         with: cell.pixels[(y * cellSize * 3)..<((y + 1) * cellSize * 3)])
        }
    }

    func drawMarks(count: Int, into sheet: inout RGBImage, x0: Int, y0: Int) {
        let fit = cellSize / 4
        if count > fit {
            fill(&sheet, x: x0, y: y0, w: cellSize, h: 3, rgb: (200, 0, 0))
            return
        }
        for k in 0..<count {
            fill(&sheet, x: x0 + 4 * k, y: y0, w: 3, h: 3, rgb: (0, 0, 0))
        }
    }

    func fill(_ sheet: inout RGBImage, x: Int, y: Int, w: Int, h: Int, rgb: (UInt8, UInt8, UInt8)) {
        for yy in y..<min(y + h, sheet.height) {
            for xx in x..<min(x + w, sheet.width) {
                let i = (yy * sheet.width + xx) * 3
                sheet.pixels[i] = rgb.0
                sheet.pixels[i + 1] = rgb.1
                sheet.pixels[i + 2] = rgb.2
            }
        }
    }

    /// Renders `cases` and writes the PNG, with a `hidiff-eval` text chunk listing the rows top to bottom.
    public func write(_ cases: [DuplicationCase], to path: String) throws {
        let rows = cases.map { c in
            "\(c.row.mode.rawValue) \(c.row.size)x\(c.row.size): " + c.samples.map { "\($0.seed):\($0.objects)" }.joined(separator: " ")
        }
        try PNGWriter.write(render(cases), to: path,
                            textChunks: [(key: "hidiff-eval", value: "rows (seed:objects)\n" + rows.joined(separator: "\n"))])
    }
}
