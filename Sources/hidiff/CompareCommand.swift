import ArgumentParser
import Foundation
import HiDiffImage

/// `hidiff compare`: how far apart two PNGs are (a sharded run against `generate`, bf16 against fp32, ...).
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two PNGs of one size; prints one JSON line (max and mean difference, PSNR).",
        discussion: """
            Prints {"width", "height", "max_difference", "mean_difference", "differing_values", "psnr_db"} \
            over every channel value; psnr_db is null for identical images. Exit status 0 whatever the \
            difference (scripts test the numbers), 1 when a file cannot be read or the sizes differ.
            """)

    @Argument(help: "The first PNG.")
    var first: String
    @Argument(help: "The second PNG.")
    var second: String

    func run() throws {
        let (a, b) = (try read(first), try read(second))
        let d = try ImageDifference(a, b)
        let psnr = d.psnr.isFinite ? String(format: "%.2f", d.psnr) : "null"
        print(#"{"width":\#(d.width),"height":\#(d.height),"max_difference":\#(d.maxDifference),"#
              + #""mean_difference":\#(String(format: "%.6f", d.meanDifference)),"differing_values":\#(d.differingValues),"#
              + #""psnr_db":\#(psnr)}"#)
    }

    private func read(_ path: String) throws -> RGBImage {
        guard let data = try CLIFiles.readRegularFile(path, what: "PNG", limit: 1 << 30) else {
            throw ValidationError("PNG \(path) is empty")
        }
        return try PNGReader.read(bytes: [UInt8](data), name: path)
    }
}
