import Foundation
import XCTest

/// `hidiff bench generate` on the bundled demo model at a tiny size: one JSON line with the keys
/// `ops/bench/generate-vs-torch.sh` reads (the same as `tools/reference/bench_torch_generate.py` prints), phases that
/// fit in the run they were measured in, and bad arguments refused naming the option.
final class BenchGenerateTests: XCTestCase {
    /// Runs the hidiff binary; stdout and stderr as text.
    func hidiff(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try LocalCluster.hidiffBinary())
        process.arguments = args
        let (out, err) = (Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
        // Read one after the other (as LocalCluster.cli does): the command writes a few lines to each.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    func testOneJSONLineWithPhasesThatFitInTheRun() throws {
        // Two timed runs of two images each: the phases are the median run's, summed over its images.
        let r = try hidiff(["bench", "generate", "--model", GenerateInputTests.demoModel, "-W", "64", "-H", "64",
                            "--steps", "2", "--runs", "2", "--warmup", "0", "--batch", "2"])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.out)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        for key in ["bench", "model", "family", "width", "height", "steps", "precision", "median_s", "min_s",
                    "median_cpu_s", "phases", "unet_calls", "load_s", "kernels", "peak_rss_bytes", "threads",
                    "scheduler", "batch", "unet_batch"] {
            XCTAssertNotNil(json[key], "missing \(key): \(r.out)")
        }
        XCTAssertEqual(json["bench"] as? String, "generate")
        XCTAssertEqual(json["width"] as? Int, 64)
        XCTAssertEqual(json["steps"] as? Int, 2)
        XCTAssertEqual(json["precision"] as? String, "fp32")
        XCTAssertEqual(json["unet_batch"] as? Int, 2, "guidance on: the U-Net runs batch 2")
        XCTAssertEqual(json["unet_calls"] as? Int, 4, "2 DDIM steps for each of 2 images")
        XCTAssertTrue((json["kernels"] as? String ?? "").hasPrefix("OpenBLAS "), r.out)
        XCTAssertGreaterThan(json["peak_rss_bytes"] as? Int ?? 0, 0)
        let median = try XCTUnwrap(json["median_s"] as? Double), minimum = try XCTUnwrap(json["min_s"] as? Double)
        XCTAssertGreaterThan(median, 0)
        XCTAssertLessThanOrEqual(minimum, median)
        let phases = try XCTUnwrap(json["phases"] as? [String: Double], r.out)
        XCTAssertEqual(Set(phases.keys), ["text_encode_and_setup_s", "denoise_s", "step_median_s", "vae_decode_s"])
        for (name, seconds) in phases { XCTAssertGreaterThan(seconds, 0, name) }
        let sum = phases["text_encode_and_setup_s"]! + phases["denoise_s"]! + phases["vae_decode_s"]!
        XCTAssertLessThanOrEqual(sum, median, "the phases are parts of the median run")
        XCTAssertLessThanOrEqual(phases["step_median_s"]!, phases["denoise_s"]!)
    }

    func testBadArgumentsAreRefusedNamingTheOption() throws {
        let model = GenerateInputTests.demoModel
        let cases: [([String], String)] = [
            (["--runs", "0"], "--runs must be from 1 to 1000 (got 0)"),
            (["--warmup", "101"], "--warmup must be from 0 to 100 (got 101)"),
            (["--batch", "100000000"], "--batch must be from 1 to 64"),
            (["--steps", "0"], "--steps must be from 1 to 1000 (got 0)"),
            (["-W", "100"], "--width must be a positive multiple of 8 up to 16384 (got 100)"),
            (["-H", "-64"], "--height must be a positive multiple of 8 up to 16384 (got -64)"),
            (["--cfg-scale", "1e300"], "--cfg-scale"),
            (["--precision", "fp8"], "bf16"),
        ]
        for (args, message) in cases {
            let r = try hidiff(["bench", "generate", "--model", model] + args)
            XCTAssertNotEqual(r.status, 0, "\(args) was accepted")
            XCTAssertTrue(r.err.contains(message), "\(args): \(r.err)")
            XCTAssertTrue(r.out.isEmpty, "\(args): nothing is measured: \(r.out)")
        }
    }
}
