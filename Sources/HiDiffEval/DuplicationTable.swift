import Foundation

/// The duplication table as Markdown, in the layout of issue 5 and the README:
/// `| case | images with >1 object | mean objects | s/image |`.
public enum DuplicationTable {
    /// The header and separator lines.
    public static let header = "| case | images with >1 object | mean objects | s/image |\n|---|---|---|---|"

    /// One table line, e.g. `| HiDiffusion, 128x128 (2x, 16 images) | 31% | 1.62 | 2.60 |`; the scale is
    /// relative to `nativeSize`.
    public static func line(_ row: DuplicationRow, nativeSize: Int) -> String {
        let name = row.mode == .direct ? "direct" : "HiDiffusion"
        let scale: String
        if row.size == nativeSize {
            scale = "native"
        } else if nativeSize > 0, row.size % nativeSize == 0 {
            scale = "\(row.size / nativeSize)x"
        } else {
            scale = String(format: "%.3gx", Double(row.size) / Double(max(nativeSize, 1)))
        }
        let percent = String(format: "%.0f%%", row.dupRate * 100)
        return "| \(name), \(row.size)x\(row.size) (\(scale), \(row.images) images) | \(percent) | "
            + String(format: "%.2f | %.2f |", row.meanObjects, row.secondsPerImage)
    }

    /// The rows as a JSON array, one object per line with the keys in the documented order
    /// (`size, mode, images, dup_rate, mean_objects, seconds_per_image`); numbers in their shortest form.
    public static func json(_ rows: [DuplicationRow]) -> String {
        let objects = rows.map { r in
            "  {\"size\": \(r.size), \"mode\": \"\(r.mode.rawValue)\", \"images\": \(r.images), "
                + "\"dup_rate\": \(r.dupRate), \"mean_objects\": \(r.meanObjects), "
                + "\"seconds_per_image\": \(r.secondsPerImage)}"
        }
        return objects.isEmpty ? "[]" : "[\n" + objects.joined(separator: ",\n") + "\n]"
    }

    /// The whole table.
    public static func markdown(_ rows: [DuplicationRow], nativeSize: Int) -> String {
        ([header] + rows.map { line($0, nativeSize: nativeSize) }).joined(separator: "\n")
    }
}
