import NIOCore

/// Field-level wire primitives, all little-endian. Readers throw `ProtocolError` naming the field, and never
/// allocate more than the bytes actually readable: every length or count is checked against `readableBytes` first.
///
/// Encodings: integers fixed-width LE; Bool one byte 0/1; Double its IEEE-754 bit pattern as u64 (must be finite);
/// bytes and strings a u32 length then the bytes (strings valid UTF-8); optionals a tag byte 0 (nil) / 1 (value).
extension ByteBuffer {
    // MARK: writing

    mutating func writeWireInteger<T: FixedWidthInteger>(_ value: T) {
        writeInteger(value, endianness: .little)
    }

    mutating func writeWireBool(_ value: Bool) {
        writeInteger(value ? 1 as UInt8 : 0)
    }

    mutating func writeWireDouble(_ value: Double) {
        writeInteger(value.bitPattern, endianness: .little)
    }

    mutating func writeWireBytes(_ bytes: [UInt8]) {
        writeInteger(UInt32(truncatingIfNeeded: bytes.count), endianness: .little)
        writeBytes(bytes)
    }

    mutating func writeWireString(_ string: String) {
        writeInteger(UInt32(truncatingIfNeeded: string.utf8.count), endianness: .little)
        writeString(string)
    }

    mutating func writeWireOptional<T>(_ value: T?, _ write: (inout ByteBuffer, T) -> Void) {
        if let value {
            writeInteger(1 as UInt8)
            write(&self, value)
        } else {
            writeInteger(0 as UInt8)
        }
    }

    mutating func writeWireTensor(_ tensor: WireTensor) {
        writeInteger(UInt8(truncatingIfNeeded: tensor.shape.count))
        for d in tensor.shape { writeInteger(UInt32(truncatingIfNeeded: d), endianness: .little) }
        reserveCapacity(minimumWritableBytes: tensor.data.count * 4)
        #if _endian(little)
        tensor.data.withUnsafeBytes { _ = writeBytes($0) }  // already the wire layout: one copy
        #else
        for f in tensor.data { writeInteger(f.bitPattern, endianness: .little) }
        #endif
    }

    // MARK: reading

    mutating func readWireInteger<T: FixedWidthInteger>(_ field: String, as: T.Type = T.self) throws -> T {
        guard let value = readInteger(endianness: .little, as: T.self) else { throw ProtocolError.truncated(field: field) }
        return value
    }

    mutating func readWireBool(_ field: String) throws -> Bool {
        switch try readWireInteger(field, as: UInt8.self) {
        case 0: return false
        case 1: return true
        case let b: throw ProtocolError.invalidField(name: field, reason: "boolean byte \(b) is neither 0 nor 1")
        }
    }

    /// Non-finite values are refused: no field has a use for them and NaN would break message equality.
    mutating func readWireDouble(_ field: String) throws -> Double {
        let value = Double(bitPattern: try readWireInteger(field, as: UInt64.self))
        guard value.isFinite else { throw ProtocolError.invalidField(name: field, reason: "not a finite number") }
        return value
    }

    /// A u32 length, checked against the readable bytes before anything is allocated.
    private mutating func readWireLength(_ field: String) throws -> Int {
        let length = Int(try readWireInteger(field, as: UInt32.self))
        guard length <= readableBytes else { throw ProtocolError.truncated(field: field) }
        return length
    }

    mutating func readWireBytes(_ field: String, exactly expected: Int? = nil) throws -> [UInt8] {
        let length = try readWireLength(field)
        if let expected, length != expected {
            throw ProtocolError.invalidField(name: field, reason: "must be \(expected) bytes, got \(length)")
        }
        return readBytes(length: length)!  // cannot fail: length <= readableBytes
    }

    mutating func readWireString(_ field: String) throws -> String {
        let length = try readWireLength(field)
        let view = readableBytesView.prefix(length)
        // Decoding repairs bad sequences with U+FFFD, so the bytes survive the round trip only if they were valid.
        let string = String(decoding: view, as: UTF8.self)
        guard string.utf8.elementsEqual(view) else {
            throw ProtocolError.invalidField(name: field, reason: "not valid UTF-8")
        }
        moveReaderIndex(forwardBy: length)
        return string
    }

    mutating func readWireOptional<T>(_ field: String, _ read: (inout ByteBuffer) throws -> T) throws -> T? {
        switch try readWireInteger(field, as: UInt8.self) {
        case 0: return nil
        case 1: return try read(&self)
        case let b: throw ProtocolError.invalidField(name: field, reason: "optional tag \(b) is neither 0 nor 1")
        }
    }

    /// An element count for an array whose elements take at least `minimumElementSize` bytes each, checked against
    /// `limit` and against the readable bytes so that `reserveCapacity(count)` is bounded by the input.
    mutating func readWireCount(_ field: String, minimumElementSize: Int, limit: Int) throws -> Int {
        let count = Int(try readWireInteger(field, as: UInt32.self))
        guard count <= limit else {
            throw ProtocolError.invalidField(name: field, reason: "count \(count) exceeds the limit of \(limit)")
        }
        guard count * minimumElementSize <= readableBytes else { throw ProtocolError.truncated(field: field) }
        return count
    }

    mutating func readWireTensor(_ field: String) throws -> WireTensor {
        let rank = Int(try readWireInteger("\(field).rank", as: UInt8.self))
        guard rank <= WireTensor.maxRank else {
            throw ProtocolError.invalidField(name: "\(field).rank", reason: "rank \(rank) exceeds \(WireTensor.maxRank)")
        }
        guard rank * 4 <= readableBytes else { throw ProtocolError.truncated(field: "\(field).shape") }
        var shape: [Int] = []
        shape.reserveCapacity(rank)
        for _ in 0..<rank { shape.append(Int(try readWireInteger("\(field).shape", as: UInt32.self))) }
        guard let count = WireTensor.elementCount(of: shape) else {
            throw ProtocolError.invalidField(name: "\(field).shape", reason: "element count overflows")
        }
        // The shape is untrusted: compare it with the bytes present before allocating the elements.
        guard count <= readableBytes / 4 else { throw ProtocolError.truncated(field: "\(field).data") }
        let data = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            readWithUnsafeReadableBytes { raw in
                #if _endian(little)
                UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<count * 4]))
                #else
                for i in 0..<count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4,
                                                                                      as: UInt32.self)))
                }
                #endif
                return count * 4
            }
            initialized = count
        }
        return WireTensor(shape: shape, data: data)
    }
}
