import Foundation

/// The parsed JSON header of a safetensors file: tensor entries and the optional `__metadata__`.
///
/// Layout of the file: 8-byte little-endian header length N, N bytes of JSON, then the data section;
/// every entry's `data_offsets` are relative to the start of the data section.
struct SafeTensorsHeader {
    struct Entry: Sendable {
        var dtype: SafeTensorsDType
        var shape: [Int]
        /// Byte range within the data section.
        var begin: Int
        var end: Int
        /// Element count (the product of the shape).
        var count: Int
    }

    var entries: [String: Entry]
    var metadata: [String: String]
    /// Offset of the data section from the start of the file (8 + header length).
    var dataStart: Int

    /// Headers larger than this are rejected as corrupt (the reference implementation uses 100 MB).
    static let maxHeaderSize = 100_000_000

    /// Parses and validates the header of a file of `fileSize` bytes whose first bytes are at `base`.
    init(base: UnsafeRawPointer?, fileSize: Int, file: String) throws {
        guard let base, fileSize >= 8 else {
            throw WeightError.truncated(file: file, detail: "the file has \(fileSize) bytes, "
                + "fewer than the 8-byte header length")
        }
        let n64 = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard n64 <= UInt64(Self.maxHeaderSize) else {
            throw WeightError.badHeader(file: file, reason: "header length \(n64) is implausibly large "
                + "(not a safetensors file?)")
        }
        let n = Int(n64)
        guard n >= 2 else {
            throw WeightError.badHeader(file: file, reason: "header length \(n) is too small for a JSON object")
        }
        guard 8 + n <= fileSize else {
            throw WeightError.truncated(file: file, detail: "the header needs \(8 + n) bytes "
                + "but the file has only \(fileSize)")
        }
        let json = Data(bytes: base + 8, count: n)
        guard json.first == UInt8(ascii: "{") else {
            throw WeightError.badHeader(file: file, reason: "the header does not start with '{' "
                + "(not a safetensors file?)")
        }
        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: json)
        } catch {
            throw WeightError.badHeader(file: file, reason: describeDecodingError(error))
        }
        metadata = raw.metadata
        dataStart = 8 + n
        let dataSize = fileSize - 8 - n
        var entries: [String: Entry] = [:]
        entries.reserveCapacity(raw.tensors.count)
        for (name, t) in raw.tensors {
            entries[name] = try Self.validate(name: name, raw: t, dataSize: dataSize, file: file)
        }
        self.entries = entries
    }

    private static func validate(name: String, raw: RawHeader.Tensor, dataSize: Int,
                                 file: String) throws -> Entry {
        guard let dtype = SafeTensorsDType(raw.dtype) else {
            throw WeightError.unsupportedDType(name: name, dtype: raw.dtype, file: file)
        }
        guard raw.shape.allSatisfy({ $0 >= 0 }) else {
            throw WeightError.badTensorEntry(name: name, file: file, reason: "negative extent in shape \(raw.shape)")
        }
        var count = 1
        for d in raw.shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw WeightError.badTensorEntry(name: name, file: file, reason: "shape \(raw.shape) is too large")
            }
            count = p
        }
        guard raw.dataOffsets.count == 2 else {
            throw WeightError.badTensorEntry(name: name, file: file,
                                             reason: "data_offsets must have 2 entries, found \(raw.dataOffsets)")
        }
        let begin = raw.dataOffsets[0], end = raw.dataOffsets[1]
        guard begin >= 0, end >= begin else {
            throw WeightError.badTensorEntry(name: name, file: file, reason: "data_offsets \(raw.dataOffsets) are not a range")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, bytes == end - begin else {
            throw WeightError.badTensorEntry(name: name, file: file, reason:
                "shape \(raw.shape) of \(dtype.name) needs \(overflow ? "too many" : String(bytes)) bytes "
                + "but data_offsets \(raw.dataOffsets) span \(end - begin)")
        }
        guard end <= dataSize else {
            throw WeightError.truncated(file: file, detail: "tensor '\(name)' needs bytes [\(begin), \(end)) "
                + "of the data section but it holds only \(dataSize) bytes (partial download?)")
        }
        return Entry(dtype: dtype, shape: raw.shape, begin: begin, end: end, count: count)
    }
}

/// The header JSON as decoded, before validation.
private struct RawHeader: Decodable {
    struct Tensor: Decodable {
        var dtype: String
        var shape: [Int]
        var dataOffsets: [Int]
        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case dataOffsets = "data_offsets"
        }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var tensors: [String: Tensor] = [:]
    var metadata: [String: String] = [:]

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        for key in c.allKeys {
            if key.stringValue == "__metadata__" {
                metadata = try c.decode([String: String].self, forKey: key)
            } else {
                tensors[key.stringValue] = try c.decode(Tensor.self, forKey: key)
            }
        }
    }
}
