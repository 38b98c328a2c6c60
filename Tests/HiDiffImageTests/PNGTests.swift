import Foundation
import HiDiffImage
import XCTest

/// PNG reading and writing: exact pixel round trips, UTF-8 iTXt metadata, every input color type,
/// compressed text, and clear errors for bad files and bad text.
final class PNGTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "hidiff-png-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    private func save(_ bytes: [UInt8], _ name: String) throws -> String {
        try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    /// A deterministic image using all byte values.
    private func pattern(width: Int, height: Int) -> RGBImage {
        RGBImage(width: width, height: height,
                 pixels: (0..<(width * height * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ ($0 / 3) &* 11) })
    }

    private func pngError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> PNGError? {
        do {
            try body()
            XCTFail("expected an error", file: file, line: line)
        } catch let e as PNGError {
            return e
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return nil
    }

    // MARK: - Writing

    func testRoundTripKeepsPixelsAndUTF8Text() throws {
        let image = pattern(width: 7, height: 5)
        let text = [(key: "parameters", value: "a café, 東京\nNegative prompt: blur\nSteps: 20, Seed: 42"),
                    (key: "hidiff", value: #"{"prompt":"a café, 東京","steps":20,"note":"tab\there"}"#)]
        let file = path("rt.png")
        try PNGWriter.write(image, to: file, textChunks: text)

        XCTAssertEqual(try PNGReader.read(file), image)
        let back = try PNGReader.textChunks(file)
        XCTAssertEqual(back.map(\.key), text.map(\.key))
        XCTAssertEqual(back.map(\.value), text.map(\.value))
        XCTAssertEqual(try PNGReader.text("hidiff", in: file), text[1].value)
        XCTAssertNil(try PNGReader.text("absent", in: file))
    }

    func testLargeImageRoundTrip() throws {
        let image = pattern(width: 640, height: 384)
        XCTAssertEqual(try PNGReader.decode(try PNGWriter.encode(image)), image)
    }

    /// The text is in uncompressed iTXt chunks (UTF-8, no language tag), ahead of the image data.
    func testTextIsUncompressedITXtBeforeImageData() throws {
        let png = try PNGWriter.encode(pattern(width: 3, height: 2), textChunks: [("parameters", "東京")])
        let chunks = RawPNG.chunks(png)
        let types = chunks.map(\.type)
        XCTAssertEqual(types.first, "IHDR")
        XCTAssertEqual(types.last, "IEND")
        let itxt = try XCTUnwrap(types.firstIndex(of: "iTXt"))
        XCTAssertLessThan(itxt, try XCTUnwrap(types.firstIndex(of: "IDAT")))
        XCTAssertEqual(chunks[itxt].data, Array("parameters".utf8) + [0, 0, 0, 0, 0] + Array("東京".utf8))
        XCTAssertEqual(Array(png[0..<8]), [137, 80, 78, 71, 13, 10, 26, 10])
        XCTAssertEqual(chunks[0].data[8...9], [8, 2], "8-bit RGB")
    }

    func testInvalidTextIsRejectedBeforeWriting() {
        let image = pattern(width: 2, height: 2)
        let cases: [(String, String, String)] = [
            ("", "x", "1 to 79 characters"),
            (String(repeating: "k", count: 80), "x", "1 to 79 characters"),
            ("東京", "x", "printable Latin-1"),
            (" lead", "x", "leading, trailing or consecutive spaces"),
            ("two  spaces", "x", "leading, trailing or consecutive spaces"),
            ("parameters", "a\u{0}b", "NUL"),
        ]
        for (key, value, reason) in cases {
            let e = pngError { try PNGWriter.write(image, to: path("bad.png"), textChunks: [(key, value)]) }
            guard case let .invalidTextChunk(k, r)? = e else { XCTFail("\(String(describing: e))"); continue }
            XCTAssertEqual(k, key)
            XCTAssertTrue(r.contains(reason), r)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.png")))
        XCTAssertNoThrow(try PNGWriter.encode(image, textChunks: [("Comment é", "ok")]), "Latin-1 keywords are fine")
    }

    func testInconsistentImageIsRejected() {
        var image = pattern(width: 4, height: 4)
        image.pixels.removeLast()
        XCTAssertEqual(pngError { _ = try PNGWriter.encode(image) },
                       .invalidImage(reason: "4x4 RGB needs 48 bytes, found 47"))
        XCTAssertEqual(pngError { _ = try PNGWriter.encode(RGBImage(width: 0, height: 3, pixels: [])) },
                       .invalidImage(reason: "size 0x3 cannot be stored as PNG"))
    }

    func testWriteToMissingDirectoryFails() {
        let e = pngError { try PNGWriter.write(pattern(width: 1, height: 1), to: path("no/such/dir.png")) }
        guard case let .writeFailed(p, _)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(p, path("no/such/dir.png"))
    }

    // MARK: - Reading other formats

    func testReadsGray8AsRGB() throws {
        let file = try save(RawPNG.make(width: 3, height: 2, bitDepth: 8, colorType: 0,
                                        rows: [[0, 128, 255], [1, 2, 254]]), "gray.png")
        let image = try PNGReader.read(file)
        XCTAssertEqual(image.width, 3)
        XCTAssertEqual(image.height, 2)
        XCTAssertEqual(image.pixels, [0, 128, 255, 1, 2, 254].flatMap { [$0, $0, $0] })
    }

    func testReadsGray1Bit() throws {
        // 10 pixels per row: 1011001110 -> two bytes 0b1011_0011, 0b10_000000.
        let png = RawPNG.make(width: 10, height: 1, bitDepth: 1, colorType: 0, rows: [[0b1011_0011, 0b1000_0000]])
        let image = try PNGReader.decode(png)
        let bits: [UInt8] = [1, 0, 1, 1, 0, 0, 1, 1, 1, 0]
        XCTAssertEqual(image.pixels, bits.flatMap { [$0 * 255, $0 * 255, $0 * 255] })
    }

    /// Alpha is dropped, not composited (PIL's `convert("RGB")`): color under alpha 0 survives.
    func testReadsRGBAByDroppingAlpha() throws {
        let png = RawPNG.make(width: 2, height: 2, bitDepth: 8, colorType: 6, rows: [
            [10, 20, 30, 255, 200, 100, 50, 0],
            [1, 2, 3, 128, 255, 255, 255, 17],
        ])
        XCTAssertEqual(try PNGReader.decode(png).pixels, [10, 20, 30, 200, 100, 50, 1, 2, 3, 255, 255, 255])
    }

    func testReadsGrayAlpha() throws {
        let png = RawPNG.make(width: 2, height: 1, bitDepth: 8, colorType: 4, rows: [[77, 0, 200, 255]])
        XCTAssertEqual(try PNGReader.decode(png).pixels, [77, 77, 77, 200, 200, 200])
    }

    func testReadsPaletteWithTransparency() throws {
        let png = RawPNG.make(width: 4, height: 1, bitDepth: 8, colorType: 3, rows: [[2, 0, 1, 2]],
                              before: [("PLTE", [255, 0, 0, 0, 255, 0, 9, 8, 7]), ("tRNS", [0, 128])])
        XCTAssertEqual(try PNGReader.decode(png).pixels, [9, 8, 7, 255, 0, 0, 0, 255, 0, 9, 8, 7])
    }

    /// 16-bit samples are scaled to 8 bits with rounding, round(v * 255 / 65535) (taken as sRGB, no
    /// gamma change). PIL instead keeps the high byte, so it differs by one for e.g. 0x12FF.
    func testReads16BitRGB() throws {
        let samples: [UInt16] = [0x0000, 0xFFFF, 0x8080, 0x12FF, 0x1234, 0x7F7F]
        let row = samples.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        let png = RawPNG.make(width: 2, height: 1, bitDepth: 16, colorType: 2, rows: [row])
        let expected = samples.map { UInt8((Int($0) * 255 + 32767) / 65535) }
        XCTAssertEqual(expected, [0, 255, 128, 19, 18, 127])
        XCTAssertEqual(try PNGReader.decode(png).pixels, expected)
    }

    // MARK: - Reading text chunks

    func testReadsLatin1AndCompressedText() throws {
        // zlib streams made with Python's zlib.compress(level 9) of the texts below (Huffman-coded).
        let zA = [UInt8](Data(base64Encoded: "eNoLLkktKLZSMDLQUQhOzC3ISS2yUnAtBVIKiToKzm7uCsXJiTmpVgrmAA+XDJk=")!)
        let zB = [UInt8](Data(base64Encoded: "eNpLVEhOTDu8Ukfh2dyNT3atUXjUMEUhcVRsVGxUDCwGAI+ik6g=")!)
        let textB = String(repeating: "a café, 東京 — ", count: 40)
        let png = RawPNG.make(width: 1, height: 1, bitDepth: 8, colorType: 0, rows: [[5]], before: [
            ("tEXt", Array("plain".utf8) + [0] + [108, 97, 116, 105, 110, 49, 32, 0xE9]),   // "latin1 é" in Latin-1
            ("zTXt", Array("parameters".utf8) + [0, 0] + zA),
            ("iTXt", Array("hidiff".utf8) + [0, 1, 0] + Array("ja".utf8) + [0] + Array("ヒ".utf8) + [0] + zB),
        ], after: [
            ("iTXt", Array("stored".utf8) + [0, 1, 0, 0, 0] + RawPNG.zlibStored(Array("after IDAT ✓".utf8))),
        ])
        let chunks = try PNGReader.textChunks(in: png)
        XCTAssertEqual(chunks.map(\.key), ["plain", "parameters", "hidiff", "stored"])
        XCTAssertEqual(chunks.map(\.value), ["latin1 é", "Steps: 20, Sampler: Euler a, CFG scale: 7", textB, "after IDAT ✓"])
    }

    func testCorruptCompressedTextIsAnError() throws {
        var z = RawPNG.zlibStored(Array("hello".utf8))
        z[z.count - 1] ^= 1     // break the Adler-32
        let png = RawPNG.make(width: 1, height: 1, bitDepth: 8, colorType: 0, rows: [[5]],
                              before: [("zTXt", Array("k".utf8) + [0, 0] + z)])
        let e = pngError { _ = try PNGReader.textChunks(in: png, name: "x.png") }
        XCTAssertEqual(e, .corrupt(path: "x.png", reason: "zTXt chunk: zlib checksum mismatch"))
        XCTAssertEqual(try PNGReader.decode(png).pixels, [5, 5, 5], "pixels do not depend on text chunks")
    }

    // MARK: - Bad files

    func testNonPNGFileIsAClearError() throws {
        let file = try save(Array("hello, not an image\n".utf8), "note.png")
        let e = pngError { _ = try PNGReader.read(file) }
        XCTAssertEqual(e, .notPNG(path: file))
        XCTAssertEqual(e?.description, "\(file) is not a PNG file (no PNG signature)")
        XCTAssertEqual(pngError { _ = try PNGReader.textChunks(file) }, .notPNG(path: file))
        XCTAssertEqual(pngError { _ = try PNGReader.read(try save([], "empty.png")) }, .notPNG(path: path("empty.png")))
    }

    func testMissingFileAndDirectory() {
        XCTAssertEqual(pngError { _ = try PNGReader.read(path("absent.png")) }, .fileNotFound(path: path("absent.png")))
        XCTAssertEqual(pngError { _ = try PNGReader.read(directory) }, .unreadable(path: directory, reason: "it is a folder, not a regular file"))
    }

    func testTruncatedPNGIsCorrupt() throws {
        let png = try PNGWriter.encode(pattern(width: 32, height: 32), textChunks: [("parameters", "x")])
        let file = try save(Array(png[..<(png.count / 2)]), "cut.png")
        guard case let .corrupt(p, reason)? = pngError({ _ = try PNGReader.read(file) }) else {
            return XCTFail("expected .corrupt")
        }
        XCTAssertEqual(p, file)
        XCTAssertFalse(reason.isEmpty)
        guard case let .corrupt(_, textReason)? = pngError({ _ = try PNGReader.textChunks(file) }) else {
            return XCTFail("expected .corrupt")
        }
        XCTAssertTrue(textReason.contains("truncated"), textReason)
    }

    func testDamagedImageDataIsCorrupt() throws {
        var png = RawPNG.make(width: 2, height: 1, bitDepth: 8, colorType: 0, rows: [[1, 2]])
        XCTAssertEqual(RawPNG.chunks(png).map(\.type), ["IHDR", "IDAT", "IEND"])
        // Flip the last byte of IDAT's CRC, just before the 12 bytes of IEND.
        png[png.count - 13] ^= 0xFF
        let e = pngError { _ = try PNGReader.decode(png, name: "crc.png") }
        guard case let .corrupt(p, reason)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(p, "crc.png")
        XCTAssertTrue(reason.contains("CRC"), reason)
    }
}
