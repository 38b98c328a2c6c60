import Foundation
import HiDiffCore
import XCTest

/// `hidiff generate` refuses bad outputs and inputs before any work, with a message naming the problem, and
/// writes nothing.
final class GenerateInputTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "hidiff-generate-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func generate(_ args: [String]) throws -> (status: Int32, err: String) {
        try hidiff(["generate", "-p", "a red circle", "-W", "64", "-H", "64", "--steps", "2", "--quiet"] + args)
    }

    func hidiff(_ args: [String]) throws -> (status: Int32, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try LocalCluster.hidiffBinary())
        process.arguments = args
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Bounded: a run that blocks (e.g. on a FIFO) is killed, and the test fails on its status.
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A generation whose estimated peak memory exceeds --max-memory (or the machine's memory) is refused
    /// with the estimate and the limit, before any denoising; the same one within the limit runs.
    func testMemoryLimitIsCheckedBeforeAnyWork() throws {
        let out = dir + "/m.png"
        let refused = try hidiff(["generate", "-p", "x", "-W", "512", "-H", "512", "--steps", "1", "--quiet", "-o", out,
                                  "--max-memory", "300000000"])
        XCTAssertEqual(refused.status, 1, refused.err)
        XCTAssertTrue(refused.err.contains("estimated peak") && refused.err.contains("286 MiB"), refused.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let huge = try hidiff(["generate", "-p", "x", "-W", "16384", "-H", "16384", "--steps", "1", "--quiet", "-o", out])
        XCTAssertEqual(huge.status, 1, huge.err)
        XCTAssertTrue(huge.err.contains("submit --workers"), huge.err)
        let fits = try hidiff(["generate", "-p", "x", "-W", "64", "-H", "64", "--steps", "1", "--quiet", "-o", out,
                               "--max-memory", "1000000000"])
        XCTAssertEqual(fits.status, 0, fits.err)
    }

    func testBadPathsAreRefusedBeforeAnyWork() throws {
        let fifo = dir + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.png", withDestinationPath: "/dev/null")
        let cases: [([String], String)] = [
            (["-o", dir + "/missing/out.png"], "does not exist"),
            (["-o", "/dev/null"], "not a regular file"),
            (["-o", dir], "not a regular file"),
            (["-o", dir + "/link.png"], "not a regular file"),
            (["-o", dir + "/a.png", "--save-latents", dir + "/a.png"], "name the same file"),
            (["-o", dir + "/a.png", "--init-image", fifo], "not a regular file"),
            (["-o", dir + "/a.png", "--init-image", dir + "/a.png"], "name the same file"),
            (["-o", dir + "/a.png", "--cfg-scale", "1e300"], "--cfg-scale"),
            (["-o", dir + "/a.png", "-W", "4294967296"], "--width"),
            (["-o", dir + "/a.png", "-W", "-64"], "--width must be a positive multiple of 8 up to 16384 (got -64)"),
            (["-o", dir + "/a.png", "--steps", "-1"], "--steps must be from 1 to 1000"),
            (["-o", dir + "/a.png", "--t1-ratio", "1e300"], "--t1-ratio must be in 0...1"),
            (["-o", dir + "/a.png", "-p", String(repeating: "a", count: 70_000)], "--prompt must be at most 65536 bytes"),
            // Two equal noise levels: a division by zero after the second step, refused before the first.
            (["-o", dir + "/a.png", "--scheduler", "dpm++2m", "--steps", "999"], "fall on the same noise level"),
        ]
        for (args, message) in cases {
            let r = try generate(args)
            XCTAssertNotEqual(r.status, 0, "\(args) was accepted")
            XCTAssertTrue(r.err.contains(message), "\(args): \(r.err)")
        }
        // A stored request (`--request`) is held to the same rules as the options.
        let stored = dir + "/request.json"
        try Data(#"{"prompt": "x", "seed": 1, "steps": 5000, "width": 64, "height": 64}"#.utf8)
            .write(to: URL(fileURLWithPath: stored))
        let r = try hidiff(["generate", "--request", stored, "-o", dir + "/a.png", "--quiet"])
        XCTAssertEqual(r.status, 64, r.err)
        XCTAssertTrue(r.err.contains("--request \(stored): steps must be from 1 to 1000 (got 5000)"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/a.png"), "nothing was written")
        var info = stat()
        XCTAssertEqual(stat("/dev/null", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR, "/dev/null is still a device")
    }

    /// The bundled demo model, found from this file (Tests/HiDiffClusterTests/ -> the repository).
    static let demoModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/shapes").path

    /// A FIFO where a weights or config file should be is refused at once (opening it would block until
    /// something writes to it), saying what it is.
    func testModelFilesThatAreNotRegularFilesAreRefusedWithoutBlocking() throws {
        for file in ["unet/diffusion_pytorch_model.safetensors", "vae/config.json", "tokenizer/vocab.json",
                     "scheduler/scheduler_config.json"] {
            let model = dir + "/model-\(file.split(separator: "/")[0])"
            try FileManager.default.copyItem(atPath: Self.demoModel, toPath: model)
            try FileManager.default.removeItem(atPath: model + "/" + file)
            XCTAssertEqual(mkfifo(model + "/" + file, 0o600), 0)
            let r = try generate(["--model", model, "-o", dir + "/f.png"])
            XCTAssertEqual(r.status, 1, "\(file): \(r.err)")
            XCTAssertTrue(r.err.contains("it is a FIFO, not a regular file"), "\(file): \(r.err)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/f.png"))
    }

    func testAGoodRunStillWrites() throws {
        let r = try generate(["-o", dir + "/ok.png", "--save-latents", dir + "/ok.safetensors"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/ok.png"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/ok.safetensors"))
    }

    /// `--verbose` names the precision and the kernels; bf16 writes a PNG whose parameters say so; an unknown
    /// precision is refused naming the values.
    func testVerboseNamesTheKernelsAndBF16IsRecorded() throws {
        let r = try generate(["--verbose", "--precision", "bf16", "-o", dir + "/bf16.png"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("precision bf16; kernels: OpenBLAS "), r.err)
        // The process re-executed itself with OpenBLAS's idle threads told to sleep (unless the test's
        // environment chose a timeout), and names its vector unit.
        if ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] == nil {
            XCTAssertTrue(r.err.contains("thread timeout 2^4 cycles"), r.err)
        }
        XCTAssertTrue(r.err.contains("vector unit \(VectorUnit.detected)"), r.err)
        XCTAssertTrue(r.err.contains("oneDNN "), r.err)
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/bf16.png"))
        XCTAssertNotNil(png.range(of: Data("Precision: bf16".utf8)), "the PNG's parameters record the precision")
        let bad = try generate(["--precision", "fp8", "-o", dir + "/fp8.png"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("fp32") && bad.err.contains("bf16"), bad.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/fp8.png"))
    }

    func testBenchAndEvalRefuseSizesThatWouldOverflowOrRunWithoutBound() throws {
        let cases: [([String], String)] = [
            (["bench", "sgemm", "--size", "2147483648"], "--size must be from 1 to 16384"),
            (["bench", "unet", "--model", "models/shapes", "--batch", "100000000"], "--batch must be from 1 to 64"),
            (["eval", "duplication", "--sizes", "64", "--seeds", "9223372036854775807"], "--seeds must be from 1 to 10000"),
            (["eval", "duplication", "--sizes", "64", "--seeds", "1", "--cfg-scale", "1e300"], "--cfg-scale"),
            (["eval", "duplication", "--sizes", "100000", "--seeds", "1"], "--sizes: 100000"),
        ]
        for (args, message) in cases {
            let r = try hidiff(args)
            XCTAssertNotEqual(r.status, 0, "\(args) was accepted")
            XCTAssertTrue(r.err.contains(message), "\(args): \(r.err)")
        }
    }
}
