import Foundation
import HiDiffCore
import HiDiffModels
import XCTest

/// safetensors reading and writing: round trips, dtype decoding and the error for every kind of bad file.
final class SafeTensorsTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "hidiff-safetensors-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    /// A safetensors file from a literal JSON header and raw data bytes (no padding added).
    @discardableResult
    private func writeRaw(_ name: String, header: String, data: [UInt8] = []) throws -> String {
        let h = Array(header.utf8)
        var bytes = withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) }
        bytes += h + data
        try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    private func le16(_ values: [UInt16]) -> [UInt8] {
        values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
    }

    /// The WeightError thrown by `body`, failing the test when none (or another error) is thrown.
    private func weightError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> WeightError? {
        do {
            try body()
            XCTFail("expected an error", file: file, line: line)
        } catch let e as WeightError {
            return e
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return nil
    }

    // MARK: - Round trip

    func testRoundTripKeepsNamesShapesDataAndMetadata() throws {
        let a = Tensor(shape: [2, 3], data: [1, -2.5, 3e-8, .greatestFiniteMagnitude, -0.0, .infinity])
        let b = Tensor(shape: [4, 1, 1, 2], data: (0..<8).map { Float($0) * 0.1 - 0.3 })
        let scalar = Tensor(shape: [], data: [42])
        let empty = Tensor(zeros: [0, 3])
        let tensors = [("z.last", a), ("a.first", b), ("scalar", scalar), ("empty", empty), ("quote\"d\n", a)]
        let file = path("rt.safetensors")
        try SafeTensorsWriter.write(tensors, to: file, metadata: ["format": "pt", "note": "café \"x\"\n"])

        let st = try SafeTensorsFile(path: file)
        XCTAssertEqual(st.names, tensors.map(\.0), "names follow the order of the data in the file")
        XCTAssertEqual(st.metadata, ["format": "pt", "note": "café \"x\"\n"])
        for (name, t) in tensors {
            XCTAssertEqual(st.shape(of: name), t.shape)
            XCTAssertEqual(st.dtype(of: name), .f32)
            let loaded = try st.load(name)
            XCTAssertEqual(loaded.shape, t.shape)
            XCTAssertEqual(loaded.data.map(\.bitPattern), t.data.map(\.bitPattern), name)
        }
        XCTAssertFalse(st.contains("nope"))
        XCTAssertNil(st.shape(of: "nope"))

        // The data section starts 8-byte aligned, as the reference writer guarantees.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual((8 + headerLength) % 8, 0)
        XCTAssertEqual(bytes.count, 8 + headerLength + 4 * (6 + 8 + 1 + 0 + 6))
        XCTAssertFalse(FileManager.default.fileExists(atPath: file + ".partial-\(getpid())"), "temp file renamed")
    }

    func testWriterRejectsDuplicateAndReservedNames() {
        let t = Tensor(zeros: [1])
        let dup = weightError { try SafeTensorsWriter.write([("x", t), ("x", t)], to: path("d.safetensors")) }
        XCTAssertTrue(dup?.description.contains("duplicate tensor name 'x'") ?? false, "\(String(describing: dup))")
        let reserved = weightError { try SafeTensorsWriter.write([("__metadata__", t)], to: path("r.safetensors")) }
        XCTAssertTrue(reserved?.description.contains("reserved") ?? false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("d.safetensors")))
    }

    func testWriteIntoMissingDirectoryFails() {
        let target = path("no/such/dir.safetensors")
        let e = weightError { try SafeTensorsWriter.write([("x", Tensor(zeros: [1]))], to: target) }
        XCTAssertEqual(e, .writeFailed(path: target, reason: "No such file or directory"))
    }

    // MARK: - dtype decoding

    /// IEEE binary16 bit patterns and their exact values (from the format definition; numpy's
    /// `np.array(bits, np.uint16).view(np.float16).astype(np.float32)` gives the same).
    func testF16DecodesKnownValues() throws {
        let cases: [(UInt16, Float)] = [
            (0x0000, 0), (0x8000, -0.0), (0x3C00, 1), (0xBC00, -1), (0xC000, -2), (0x3800, 0.5),
            (0x3555, 0.333251953125), (0x7BFF, 65504), (0xFBFF, -65504),
            (0x0400, 0x1p-14),                // smallest normal
            (0x0001, 0x1p-24),                // smallest subnormal
            (0x03FF, 0x1.ff8p-15),            // largest subnormal
            (0x8001, -0x1p-24), (0x4248, 3.140625), (0x7C00, .infinity), (0xFC00, -.infinity),
        ]
        let file = try writeRaw("f16.safetensors",
                                header: #"{"h":{"dtype":"F16","shape":[\#(cases.count)],"data_offsets":[0,\#(2 * cases.count)]}}"#,
                                data: le16(cases.map(\.0)))
        let st = try SafeTensorsFile(path: file)
        XCTAssertEqual(st.dtype(of: "h"), .f16)
        let t = try st.load("h")
        for (i, (bits, value)) in cases.enumerated() {
            XCTAssertEqual(t.data[i].bitPattern, value.bitPattern, String(format: "0x%04x", bits))
        }
        XCTAssertTrue(SafeTensorsDType.halfToFloat(0x7E00).isNaN)
        XCTAssertTrue(SafeTensorsDType.halfToFloat(0xFC01).isNaN)
    }

    #if !(os(macOS) && arch(x86_64))
    /// Every one of the 65536 half-precision patterns agrees with the standard library's Float16.
    func testF16MatchesFloat16ForAllBitPatterns() {
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let got = SafeTensorsDType.halfToFloat(bits)
            if expected.isNaN {
                XCTAssertTrue(got.isNaN, "0x\(String(bits, radix: 16))")
            } else if got.bitPattern != expected.bitPattern {
                XCTFail("0x\(String(bits, radix: 16)): \(got) != \(expected)")
                return
            }
        }
    }
    #endif

    /// bfloat16 is the upper half of a float32: known patterns, exactly.
    func testBF16DecodesKnownValues() throws {
        let cases: [(UInt16, Float)] = [
            (0x3F80, 1), (0xBF80, -1), (0x4049, 3.140625), (0xC2F7, -123.5), (0x0000, 0), (0x8000, -0.0),
            (0x7F7F, 0x1.fep127), (0x0080, 0x1p-126), (0x0001, 0x1p-133), (0x7F80, .infinity),
        ]
        let file = try writeRaw("bf16.safetensors",
                                header: #"{"b":{"dtype":"BF16","shape":[2,5],"data_offsets":[0,20]}}"#,
                                data: le16(cases.map(\.0)))
        let t = try SafeTensorsFile(path: file).load("b")
        XCTAssertEqual(t.shape, [2, 5])
        XCTAssertEqual(t.data.map(\.bitPattern), cases.map(\.1.bitPattern))
    }

    func testIntegerAndDoubleTypesReadAsFloat() throws {
        var data: [UInt8] = []
        for v: Int64 in [-3, 0, 1 << 40] { data += withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        for v: Int32 in [7, -8] { data += withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        data += withUnsafeBytes(of: (0.1 as Double).bitPattern.littleEndian) { Array($0) }
        data += [255, 1, 0]     // U8 x2, BOOL x1
        let header = #"{"i64":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},"#
            + #""i32":{"dtype":"I32","shape":[2],"data_offsets":[24,32]},"#
            + #""f64":{"dtype":"F64","shape":[],"data_offsets":[32,40]},"#
            + #""u8":{"dtype":"U8","shape":[2],"data_offsets":[40,42]},"#
            + #""flag":{"dtype":"BOOL","shape":[1],"data_offsets":[42,43]}}"#
        let st = try SafeTensorsFile(path: try writeRaw("ints.safetensors", header: header, data: data))
        XCTAssertEqual(st.names, ["i64", "i32", "f64", "u8", "flag"])
        XCTAssertEqual(try st.load("i64").data, [-3, 0, 1_099_511_627_776])
        XCTAssertEqual(try st.load("i32").data, [7, -8])
        XCTAssertEqual(try st.load("f64").data, [Float(0.1 as Double)])
        XCTAssertEqual(try st.load("u8").data, [255, 1])
        XCTAssertEqual(try st.load("flag").data, [0])
    }

    /// A header whose length is not a multiple of 8 leaves the data unaligned; decoding must not care.
    func testUnalignedDataSection() throws {
        let values: [Float] = [1.5, -2, 1e-3]
        let f32 = values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        let header = #"{"f":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"h":{"dtype":"F16","shape":[1],"data_offsets":[12,14]}}"#
        XCTAssertNotEqual(header.utf8.count % 4, 0)
        let st = try SafeTensorsFile(path: try writeRaw("odd.safetensors", header: header, data: f32 + le16([0x3E00])))
        XCTAssertEqual(try st.load("f").data, values)
        XCTAssertEqual(try st.load("h").data, [1.5])
    }

    // MARK: - Errors

    func testMissingFile() {
        let e = weightError { _ = try SafeTensorsFile(path: path("absent.safetensors")) }
        XCTAssertEqual(e, .fileNotFound(path: path("absent.safetensors")))
        XCTAssertEqual(e?.description, "file not found: \(path("absent.safetensors"))")
    }

    func testDirectoryIsUnreadable() {
        let e = weightError { _ = try SafeTensorsFile(path: directory) }
        XCTAssertEqual(e, .unreadable(path: directory, reason: "it is a folder, not a regular file"))
    }

    func testEmptyAndShortFilesAreTruncated() throws {
        for (name, bytes) in [("empty", [UInt8]()), ("short", [1, 2, 3, 4])] {
            try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
            let e = weightError { _ = try SafeTensorsFile(path: path(name)) }
            guard case let .truncated(file, detail)? = e else { return XCTFail("\(String(describing: e))") }
            XCTAssertEqual(file, path(name))
            XCTAssertTrue(detail.contains("fewer than the 8-byte header length"), detail)
        }
    }

    func testHeaderLongerThanFileIsTruncated() throws {
        var bytes = withUnsafeBytes(of: UInt64(1000).littleEndian) { Array($0) }
        bytes += Array(#"{"a":"#.utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path("cut")))
        let e = weightError { _ = try SafeTensorsFile(path: path("cut")) }
        XCTAssertEqual(e, .truncated(file: path("cut"), detail: "the header needs 1008 bytes but the file has only 13"))
    }

    func testImplausibleHeaderLengthIsBadHeader() throws {
        // A PNG's first 8 bytes read as a length: clearly not a safetensors file.
        try Data([137, 80, 78, 71, 13, 10, 26, 10, 0, 0]).write(to: URL(fileURLWithPath: path("png")))
        let e = weightError { _ = try SafeTensorsFile(path: path("png")) }
        guard case let .badHeader(file, reason)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(file, path("png"))
        XCTAssertTrue(reason.contains("implausibly large"), reason)
    }

    func testMalformedJSONIsBadHeader() throws {
        let notObject = weightError { _ = try SafeTensorsFile(path: try writeRaw("a", header: "[1, 2]")) }
        XCTAssertEqual(notObject, .badHeader(file: path("a"), reason: "the header does not start with '{' (not a safetensors file?)"))

        let broken = weightError { _ = try SafeTensorsFile(path: try writeRaw("b", header: #"{"x": {"dtype": "F32""#)) }
        guard case let .badHeader(_, reason)? = broken else { return XCTFail("\(String(describing: broken))") }
        XCTAssertTrue(reason.hasPrefix("malformed JSON"), reason)

        let noShape = weightError {
            _ = try SafeTensorsFile(path: try writeRaw("c", header: #"{"w":{"dtype":"F32","data_offsets":[0,0]}}"#))
        }
        XCTAssertEqual(noShape, .badHeader(file: path("c"), reason: "missing field 'shape' at 'w'"))

        let badMetadata = weightError {
            _ = try SafeTensorsFile(path: try writeRaw("d", header: #"{"__metadata__":{"n":1}}"#))
        }
        guard case .badHeader(_, let r)? = badMetadata else { return XCTFail("\(String(describing: badMetadata))") }
        XCTAssertTrue(r.contains("__metadata__"), r)
    }

    func testUnknownDTypeFailsAtOpenAndUnsupportedAtLoad() throws {
        let unknown = weightError {
            _ = try SafeTensorsFile(path: try writeRaw("u", header: #"{"w":{"dtype":"F7","shape":[1],"data_offsets":[0,1]}}"#, data: [0]))
        }
        XCTAssertEqual(unknown, .unsupportedDType(name: "w", dtype: "F7", file: path("u")))
        XCTAssertEqual(unknown?.description, "tensor 'w' in \(path("u")) has dtype F7, which cannot be read as float32")

        // A dtype of the format we cannot convert: the file opens, the tensor fails to load.
        let st = try SafeTensorsFile(path: try writeRaw("f8", header: #"{"q":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#, data: [1, 2]))
        XCTAssertEqual(st.shape(of: "q"), [2])
        XCTAssertEqual(weightError { _ = try st.load("q") }, .unsupportedDType(name: "q", dtype: "F8_E4M3", file: path("f8")))
    }

    func testOffsetsInconsistentWithShapeAreRejected() throws {
        let e = weightError {
            _ = try SafeTensorsFile(path: try writeRaw("o", header: #"{"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)))
        }
        XCTAssertEqual(e, .badTensorEntry(name: "w", file: path("o"),
                                          reason: "shape [2, 3] of F16 needs 12 bytes but data_offsets [0, 8] span 8"))
        let reversed = weightError {
            _ = try SafeTensorsFile(path: try writeRaw("r", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0]))
        }
        guard case .badTensorEntry(name: "w", _, _)? = reversed else { return XCTFail("\(String(describing: reversed))") }
    }

    /// A partial download: the header promises more data than the file holds.
    func testTruncatedDataSection() throws {
        let file = path("big.safetensors")
        try SafeTensorsWriter.write([("a", Tensor(zeros: [4])), ("b", Tensor(zeros: [16]))], to: file)
        let full = try Data(contentsOf: URL(fileURLWithPath: file))
        try full.prefix(full.count - 10).write(to: URL(fileURLWithPath: file))
        let e = weightError { _ = try SafeTensorsFile(path: file) }
        XCTAssertEqual(e, .truncated(file: file, detail: "tensor 'b' needs bytes [16, 80) of the data section "
                                        + "but it holds only 70 bytes (partial download?)"))
    }

    func testMissingTensorNamesTensorAndFile() throws {
        let file = path("m.safetensors")
        try SafeTensorsWriter.write([("conv.weight", Tensor(zeros: [2, 1, 1, 1]))], to: file)
        let st = try SafeTensorsFile(path: file)
        let e = weightError { _ = try st.load("conv.bias") }
        XCTAssertEqual(e, .missing(name: "conv.bias", file: file))
        XCTAssertEqual(e?.description, "missing tensor 'conv.bias' in \(file)")
    }
}
