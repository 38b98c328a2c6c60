import Foundation
import HiDiffEval
import HiDiffImage
import XCTest

/// A model stand-in: draws `objects(size, mode, seed)` separate 5x5 squares (25 px) of the prompt's colour,
/// plus distractors the counter must ignore (a 4 px speck of the colour, a square of another colour).
private final class StubGenerator: DuplicationGenerator, @unchecked Sendable {
    let nativeSize = 64
    var calls: [(prompt: String, size: Int, seed: UInt64, mode: DuplicationMode)] = []

    static func objects(size: Int, mode: DuplicationMode, seed: UInt64) -> Int {
        let scale = size / 64
        return mode == .direct ? scale * scale * Int(seed % 2 + 1) - (seed % 3 == 0 ? 1 : 0) : 1 + Int(seed % 4 == 1 ? 1 : 0)
    }

    static let rgb: [ObjectColour: (UInt8, UInt8, UInt8)] = [
        .red: (220, 30, 30), .green: (40, 180, 50), .blue: (35, 65, 220), .yellow: (235, 215, 35)]

    func generate(prompt: String, size: Int, seed: UInt64, mode: DuplicationMode) throws -> RGBImage {
        calls.append((prompt, size, seed, mode))
        let colour = ObjectCounter.promptColour(prompt)!
        var image = RGBImage(width: size, height: size, red: 150, green: 140, blue: 135)
        func square(_ x0: Int, _ y0: Int, _ side: Int, _ c: (UInt8, UInt8, UInt8)) {
            for y in y0..<(y0 + side) { for x in x0..<(x0 + side) {
                let i = (y * size + x) * 3
                image.pixels[i] = c.0; image.pixels[i + 1] = c.1; image.pixels[i + 2] = c.2
            } }
        }
        let n = Self.objects(size: size, mode: mode, seed: seed)
        for k in 0..<n { square(2 + 7 * (k % 8), 2 + 7 * (k / 8), 5, Self.rgb[colour]!) }
        square(size - 4, size - 4, 2, Self.rgb[colour]!)
        let other: ObjectColour = colour == .red ? .blue : .red
        square(size - 12, size - 20, 6, Self.rgb[other]!)
        return image
    }
}

final class DuplicationBenchmarkTests: XCTestCase {
    func testAggregationOnStub() throws {
        let stub = StubGenerator()
        let bench = DuplicationBenchmark(sizes: [64, 128], seedBase: 10, seedCount: 14)
        var progress: [Int] = []
        var early: [DuplicationRow] = []
        let cases = try bench.run(with: stub, progress: { progress.append($0.index); XCTAssertEqual($0.total, 42) },
                                  caseDone: { early.append($0.row) })
        // HiDiffusion does not run at the native size.
        XCTAssertEqual(cases.map(\.row.size), [64, 128, 128])
        XCTAssertEqual(cases.map(\.row.mode), [.direct, .direct, .hidiffusion])
        XCTAssertEqual(early, cases.map(\.row))
        XCTAssertEqual(progress, Array(1...42))
        XCTAssertEqual(stub.calls.count, 42)
        for (k, call) in stub.calls.enumerated() {
            let i = k % 14
            XCTAssertEqual(call.seed, 10 + UInt64(i))
            XCTAssertEqual(call.prompt, DuplicationBenchmark.defaultPrompts[i % 12])
        }
        XCTAssertEqual(DuplicationBenchmark.defaultPrompts.count, 12)
        XCTAssertEqual(DuplicationBenchmark.defaultPrompts.prefix(5),
                       ["a red circle", "a green circle", "a blue circle", "a yellow circle", "a red square"])
        for c in cases {
            let expected = (10..<24).map { StubGenerator.objects(size: c.row.size, mode: c.row.mode, seed: UInt64($0)) }
            XCTAssertEqual(c.samples.map(\.objects), expected, "\(c.row.mode) \(c.row.size)")
            XCTAssertEqual(c.row.images, 14)
            XCTAssertEqual(c.row.dupRate, Double(expected.filter { $0 > 1 }.count) / 14, accuracy: 1e-12)
            XCTAssertEqual(c.row.meanObjects, Double(expected.reduce(0, +)) / 14, accuracy: 1e-12)
            XCTAssertEqual(c.row.secondsPerImage, c.samples.map(\.seconds).reduce(0, +) / 14, accuracy: 1e-12)
            XCTAssertGreaterThanOrEqual(c.row.secondsPerImage, 0)
            XCTAssertTrue(c.samples.allSatisfy { $0.image.width == c.row.size && $0.image.height == c.row.size })
        }
        // Hand-checked values of the stub's formula: direct 64 over seeds 10..23 has objects
        // 1,2,0,2,1,1,1,2,0,2,1,1,1,2 -> 5 of 14 above one, mean 17/14.
        XCTAssertEqual(cases[0].samples.map(\.objects), [1, 2, 0, 2, 1, 1, 1, 2, 0, 2, 1, 1, 1, 2])
        XCTAssertEqual(cases[0].row.dupRate, 5.0 / 14, accuracy: 1e-12)
        XCTAssertEqual(cases[0].row.meanObjects, 17.0 / 14, accuracy: 1e-12)
    }

    func testRowJSONKeysAndTable() throws {
        let row = DuplicationRow(size: 128, mode: .hidiffusion, counts: [1, 2, 1, 3], seconds: 10)
        XCTAssertEqual(row.images, 4)
        XCTAssertEqual(row.dupRate, 0.5)
        XCTAssertEqual(row.meanObjects, 1.75)
        XCTAssertEqual(row.secondsPerImage, 2.5)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(row)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["size", "mode", "images", "dup_rate", "mean_objects", "seconds_per_image"])
        XCTAssertEqual(object["mode"] as? String, "hidiffusion")
        XCTAssertEqual(object["dup_rate"] as? Double, 0.5)
        XCTAssertEqual(try JSONDecoder().decode(DuplicationRow.self, from: JSONEncoder().encode(row)), row)
        XCTAssertEqual(DuplicationTable.line(row, nativeSize: 64), "| HiDiffusion, 128x128 (2x, 4 images) | 50% | 1.75 | 2.50 |")
        let native = DuplicationRow(size: 64, mode: .direct, counts: [1, 1, 2], seconds: 3)
        XCTAssertEqual(DuplicationTable.line(native, nativeSize: 64), "| direct, 64x64 (native, 3 images) | 33% | 1.33 | 1.00 |")
        XCTAssertEqual(DuplicationRow(size: 64, mode: .direct, counts: [], seconds: 0).images, 0)

        let json = DuplicationTable.json([native, row])
        XCTAssertTrue(json.hasPrefix("[\n  {\"size\": 64, \"mode\": \"direct\", \"images\": 3, \"dup_rate\": "), json)
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        XCTAssertEqual(parsed.count, 2)
        XCTAssertEqual(parsed[1]["mode"] as? String, "hidiffusion")
        XCTAssertEqual(parsed[1]["mean_objects"] as? Double, 1.75)
        XCTAssertEqual(parsed[1]["seconds_per_image"] as? Double, 2.5)
        XCTAssertEqual(parsed[0]["dup_rate"] as? Double, 1.0 / 3)
        XCTAssertEqual(DuplicationTable.json([]), "[]")
    }

    func testValidation() {
        XCTAssertThrowsError(try DuplicationBenchmark(sizes: [], seedCount: 1).validate())
        XCTAssertThrowsError(try DuplicationBenchmark(sizes: [0], seedCount: 1).validate())
        XCTAssertThrowsError(try DuplicationBenchmark(sizes: [64], seedCount: 0).validate())
        XCTAssertThrowsError(try DuplicationBenchmark(sizes: [64], seedCount: 1, prompts: ["a purple circle"]).validate()) {
            XCTAssertTrue("\($0)".contains("a purple circle"), "\($0)")
        }
        XCTAssertNoThrow(try DuplicationBenchmark(sizes: [64], seedCount: 1, prompts: ["a blue circle"]).validate())
    }

    func testContactSheetLayout() throws {
        // A 2x2 image scaled to 4x4 cells: each pixel becomes a 2x2 block.
        let tiny = RGBImage(width: 2, height: 2, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0])
        let sheet = ContactSheet(cellSize: 4, padding: 1)
        let scaled = sheet.scaled(tiny)
        XCTAssertTrue(scaled[1, 1] == (255, 0, 0) && scaled[2, 0] == (0, 255, 0)
                      && scaled[0, 3] == (0, 0, 255) && scaled[3, 2] == (255, 255, 0))
        // Downscaling by 2 keeps the pixel right of each pair's centre (PIL's nearest).
        let big = RGBImage(width: 8, height: 8, pixels: (0..<64).flatMap { [UInt8($0), 0, 0] })
        XCTAssertEqual(sheet.scaled(big)[1, 2].r, UInt8(5 * 8 + 3))

        let sample = { (objects: Int) in
            DuplicationSample(seed: 0, prompt: "a red circle", image: tiny, objects: objects, seconds: 1)
        }
        let cases = [DuplicationCase(size: 64, mode: .direct, samples: [sample(1), sample(2), sample(0)]),
                     DuplicationCase(size: 128, mode: .hidiffusion, samples: [sample(1)])]
        let wide = ContactSheet(cellSize: 16, padding: 2)
        let image = wide.render(cases)
        XCTAssertEqual(image.width, 2 + 3 * (16 + 2))
        XCTAssertEqual(image.height, 2 + 2 * (16 + 6 + 2))
        XCTAssertTrue(image[2, 2] == (255, 0, 0))          // first cell, top-left pixel
        XCTAssertTrue(image[0, 0] == (255, 255, 255))      // padding
        // Count marks under the cells: one 3x3 mark for 1 object, two for 2, none for 0.
        let markY = 2 + 16 + 1
        XCTAssertTrue(image[2, markY] == (0, 0, 0) && image[6, markY] == (255, 255, 255))
        XCTAssertTrue(image[20, markY] == (0, 0, 0) && image[24, markY] == (0, 0, 0))
        XCTAssertTrue(image[38, markY] == (255, 255, 255))

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hidiff-sheet-\(getpid()).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try wide.write(cases, to: path)
        XCTAssertEqual(try PNGReader.read(path), image)
        XCTAssertEqual(try PNGReader.text("hidiff-eval", in: path)?.contains("hidiffusion 128x128: 0:1"), true)
    }
}
