#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import HiDiffCore

/// Writes float32 tensors as a safetensors file (used for `--save-latents` and tests) or as safetensors
/// bytes in memory (`serialize`).
///
/// The file is written under a temporary name next to `path` and renamed into place, so a reader never
/// sees a half-written file. The header keeps the given tensor order and is padded with spaces to a
/// multiple of 8 bytes, as the reference implementation does, so the data section is aligned.
public enum SafeTensorsWriter {
    /// Writes `tensors` (name, tensor) in order as F32, with `metadata` as the header's `__metadata__`.
    ///
    /// - Throws: `WeightError.writeFailed` for a duplicate or reserved name or an I/O failure.
    public static func write(_ tensors: [(String, Tensor)], to path: String,
                             metadata: [String: String] = [:]) throws {
        let bytes = try serialize(tensors, metadata: metadata, name: path)
        let temp = path + ".partial-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WeightError.writeFailed(path: path, reason: MappedFile.message(errno)) }
        var ok = false
        defer {
            if !ok { close(fd); unlink(temp) }
        }
        try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
        guard fsync(fd) == 0 || errno == EINVAL else {
            throw WeightError.writeFailed(path: path, reason: MappedFile.message(errno))
        }
        ok = true
        guard close(fd) == 0 else {
            let reason = MappedFile.message(errno)
            unlink(temp)
            throw WeightError.writeFailed(path: path, reason: reason)
        }
        guard rename(temp, path) == 0 else {
            let reason = MappedFile.message(errno)
            unlink(temp)
            throw WeightError.writeFailed(path: path, reason: reason)
        }
    }

    /// The safetensors bytes of `tensors` (name, tensor) in order as F32, with `metadata` as the header's
    /// `__metadata__`: exactly what `write` puts in a file (e.g. to send latents over the network).
    /// `SafeTensorsFile(bytes:)` reads them back.
    ///
    /// - Throws: `WeightError.writeFailed` (naming `name`) for a duplicate or reserved tensor name.
    public static func serialize(_ tensors: [(String, Tensor)], metadata: [String: String] = [:],
                                 name: String = "<memory>") throws -> [UInt8] {
        let header = try headerBytes(tensors, metadata: metadata, path: name)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + header.count + tensors.reduce(0) { $0 + 4 * $1.1.count })
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: header)
        for (_, t) in tensors {
            #if _endian(little)
            t.data.withUnsafeBytes { bytes.append(contentsOf: $0) }
            #else
            t.data.map { $0.bitPattern.littleEndian }.withUnsafeBytes { bytes.append(contentsOf: $0) }
            #endif
        }
        return bytes
    }

    /// The JSON header, space-padded so that 8 + its length is a multiple of 8.
    static func headerBytes(_ tensors: [(String, Tensor)], metadata: [String: String],
                            path: String) throws -> [UInt8] {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += quoted("__metadata__") + ":{"
            json += metadata.sorted { $0.key < $1.key }
                .map { quoted($0.key) + ":" + quoted($0.value) }.joined(separator: ",")
            json += "}"
            first = false
        }
        var seen = Set<String>()
        var offset = 0
        for (name, t) in tensors {
            guard name != "__metadata__" else {
                throw WeightError.writeFailed(path: path, reason: "'__metadata__' is reserved and cannot name a tensor")
            }
            guard seen.insert(name).inserted else {
                throw WeightError.writeFailed(path: path, reason: "duplicate tensor name '\(name)'")
            }
            let end = offset + 4 * t.count
            if !first { json += "," }
            first = false
            json += quoted(name) + ":{\"dtype\":\"F32\",\"shape\":["
                + t.shape.map(String.init).joined(separator: ",")
                + "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var bytes = Array(json.utf8)
        while (8 + bytes.count) % 8 != 0 { bytes.append(UInt8(ascii: " ")) }
        return bytes
    }

    /// A JSON string literal.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    private static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        guard var p = buffer.baseAddress else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let n = posixWrite(fd, p, remaining)
            if n < 0 {
                if errno == EINTR { continue }
                throw WeightError.writeFailed(path: path, reason: MappedFile.message(errno))
            }
            p += n
            remaining -= n
        }
    }
}

/// `write(2)`, named apart from the static method above.
@inline(__always)
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    write(fd, p, n)
}
