import HiDiffImage

/// Counts objects of one colour in a generated image: the duplication metric of the demo model.
///
/// The definition is exactly that of `tools/train/count_objects.py` (the reference; the tests compare both on
/// the fixtures in `Tests/Fixtures/eval/`):
///
/// 1. Colour classification, per pixel, in float32 on RGB scaled to [0, 1] (`byte / 255`):
///    `mx = max(r, g, b)`, `mn = min(r, g, b)`, `chroma = mx - mn`. A pixel is coloured only if
///    `chroma >= 0.30` (`chromaMin`): the training backgrounds have chroma <= 0.17 and the objects >= 0.55, so
///    backgrounds and pale halos never count. Its hue in degrees is the standard HSV hue:
///    `mx == r`: `60 (g - b) / chroma mod 360`; else `mx == g`: `60 (b - r) / chroma + 120`;
///    else `60 (r - g) / chroma + 240`. Bins: red `h < 30` or `h >= 330`; yellow `30 <= h < 80`;
///    green `80 <= h < 180`; blue `180 <= h < 300`; `300 <= h < 330` (magenta) is no colour.
/// 2. The 4-connected components (up, down, left, right) of the mask "pixel has the colour".
/// 3. Objects are the components of at least `minArea` pixels (24 by default). The threshold is absolute, not
///    a fraction of the image, because the model draws objects at its training scale whatever the output
///    size: the smallest training object (a disc of radius 7 px) covers ~154 px, so 24 px keeps every real
///    object and drops specks and thin edge fringes.
///
/// The colour of a prompt is its first word among red, green, blue and yellow (`promptColour(_:)`).
public struct ObjectCounter: Sendable, Equatable {
    /// The smallest chroma (max - min of r, g, b in [0, 1]) of a coloured pixel.
    public static let chromaMin: Float = 0.30
    /// The default smallest object, in pixels.
    public static let defaultMinArea = 24

    /// Components smaller than this many pixels are not objects.
    public var minArea: Int

    public init(minArea: Int = ObjectCounter.defaultMinArea) {
        self.minArea = minArea
    }

    /// The number of 4-connected regions of `colour` with at least `minArea` pixels.
    public func count(image: RGBImage, colour: ObjectColour) -> Int {
        Self.componentAreas(image: image, colour: colour).reduce(0) { $0 + ($1 >= minArea ? 1 : 0) }
    }

    /// The first colour word (red, green, blue, yellow) of `prompt`, case-insensitive, words separated by
    /// white space or commas; nil if it names none.
    public static func promptColour(_ prompt: String) -> ObjectColour? {
        let words = prompt.lowercased().split { $0 == "," || $0.isWhitespace }
        for word in words {
            if let colour = ObjectColour(rawValue: String(word)) { return colour }
        }
        return nil
    }

    /// The colour label of every pixel, row-major: 0 for none, else `ObjectColour.label`.
    public static func classify(_ image: RGBImage) -> [UInt8] {
        var labels = [UInt8](repeating: 0, count: image.width * image.height)
        image.pixels.withUnsafeBufferPointer { px in
            labels.withUnsafeMutableBufferPointer { out in
                for i in 0..<out.count {
                    out[i] = classify(r: px[3 * i], g: px[3 * i + 1], b: px[3 * i + 2])
                }
            }
        }
        return labels
    }

    /// The colour label of one pixel (0 for none, else `ObjectColour.label`).
    ///
    /// Every operation is float32 and in the reference's order (NumPy keeps float32 arrays float32 against
    /// Python scalars), so pixels on a hue bin border land in the same bin.
    @inline(__always)
    public static func classify(r r8: UInt8, g g8: UInt8, b b8: UInt8) -> UInt8 {
        let r = Float(r8) / 255, g = Float(g8) / 255, b = Float(b8) / 255
        let mx = max(r, g, b), mn = min(r, g, b)
        let chroma = mx - mn
        guard chroma >= chromaMin else { return 0 }
        let hue: Float
        if mx == r {
            hue = pythonMod(60 * (g - b) / chroma, 360)
        } else if mx == g {
            hue = 60 * (b - r) / chroma + 120
        } else {
            hue = 60 * (r - g) / chroma + 240
        }
        if hue < 30 || hue >= 330 { return ObjectColour.red.label }
        if hue < 80 { return ObjectColour.yellow.label }
        if hue < 180 { return ObjectColour.green.label }
        if hue < 300 { return ObjectColour.blue.label }
        return 0
    }

    /// NumPy's float32 `np.mod` (`npy_divmodf`): fmod, moved to the divisor's sign.
    @inline(__always)
    static func pythonMod(_ a: Float, _ b: Float) -> Float {
        var m = a.truncatingRemainder(dividingBy: b)
        if m != 0 {
            if (b < 0) != (m < 0) { m += b }
        } else {
            m = Float(signOf: b, magnitudeOf: 0)
        }
        return m
    }

    /// The areas of the 4-connected components of `colour`, all sizes, in raster order of each component's
    /// first pixel (as `count_objects.component_areas`).
    public static func componentAreas(image: RGBImage, colour: ObjectColour) -> [Int] {
        let labels = classify(image)
        return componentAreas(mask: labels.map { $0 == colour.label }, width: image.width, height: image.height)
    }

    /// The areas of the 4-connected components of a row-major `width` x `height` mask, in raster order of
    /// each component's first pixel.
    public static func componentAreas(mask: [Bool], width w: Int, height h: Int) -> [Int] {
        precondition(mask.count == w * h, "mask of \(mask.count) pixels for \(w)x\(h)")
        var seen = [Bool](repeating: false, count: w * h)
        var areas: [Int] = []
        var stack: [Int] = []
        for start in 0..<(w * h) where mask[start] && !seen[start] {
            seen[start] = true
            stack.append(start)
            var area = 0
            while let p = stack.popLast() {
                area += 1
                let y = p / w, x = p % w
                if y > 0, mask[p - w], !seen[p - w] { seen[p - w] = true; stack.append(p - w) }
                if y < h - 1, mask[p + w], !seen[p + w] { seen[p + w] = true; stack.append(p + w) }
                if x > 0, mask[p - 1], !seen[p - 1] { seen[p - 1] = true; stack.append(p - 1) }
                if x < w - 1, mask[p + 1], !seen[p + 1] { seen[p + 1] = true; stack.append(p + 1) }
            }
            areas.append(area)
        }
        return areas
    }
}
