#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A safetensors element type, with its size and the conversion of a little-endian buffer to float32.
public enum SafeTensorsDType: Sendable, Equatable {
    case f64, f32, f16, bf16, i64, i32, i16, i8, u64, u32, u16, u8, bool
    /// A type of the format we cannot convert (e.g. F8_E4M3); the size is known so offsets can be checked.
    case unsupported(String, size: Int)

    /// Parses the header's dtype string; nil for a string the safetensors format does not define.
    public init?(_ name: String) {
        switch name {
        case "F64": self = .f64
        case "F32": self = .f32
        case "F16": self = .f16
        case "BF16": self = .bf16
        case "I64": self = .i64
        case "I32": self = .i32
        case "I16": self = .i16
        case "I8": self = .i8
        case "U64": self = .u64
        case "U32": self = .u32
        case "U16": self = .u16
        case "U8": self = .u8
        case "BOOL": self = .bool
        case "F8_E4M3", "F8_E5M2", "F8_E8M0": self = .unsupported(name, size: 1)
        case "C64": self = .unsupported(name, size: 8)
        default: return nil
        }
    }

    /// The header spelling.
    public var name: String {
        switch self {
        case .f64: "F64"
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .i64: "I64"
        case .i32: "I32"
        case .i16: "I16"
        case .i8: "I8"
        case .u64: "U64"
        case .u32: "U32"
        case .u16: "U16"
        case .u8: "U8"
        case .bool: "BOOL"
        case let .unsupported(name, _): name
        }
    }

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .i8, .u8, .bool: 1
        case let .unsupported(_, size): size
        }
    }

    /// Converts `out.count` little-endian elements at `src` (any alignment) to float32.
    /// Returns false for an unsupported type.
    func convert(_ src: UnsafeRawPointer, into out: UnsafeMutableBufferPointer<Float>) -> Bool {
        let n = out.count
        guard n > 0, let dst = out.baseAddress else { return true }
        switch self {
        case .f32:
            #if _endian(little)
            memcpy(dst, src, n * 4)
            #else
            for i in 0..<n {
                dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            #endif
        case .f16:
            // A 256 KiB table (built once) beats per-element bit surgery with its branches.
            Self.halfTable.withUnsafeBufferPointer { table in
                for i in 0..<n {
                    dst[i] = table[Int(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))]
                }
            }
        case .bf16:
            // bfloat16 is the top half of a float32, so widening is exact.
            for i in 0..<n {
                let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                dst[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .f64:
            for i in 0..<n {
                dst[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            }
        case .i64:
            for i in 0..<n { dst[i] = Float(Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
        case .i32:
            for i in 0..<n { dst[i] = Float(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
        case .i16:
            for i in 0..<n { dst[i] = Float(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
        case .i8:
            for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        case .u64:
            for i in 0..<n { dst[i] = Float(UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
        case .u32:
            for i in 0..<n { dst[i] = Float(UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .u16:
            for i in 0..<n { dst[i] = Float(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .u8:
            for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        case .bool:
            for i in 0..<n { dst[i] = src.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
        case .unsupported:
            return false
        }
        return true
    }

    /// `halfToFloat` of every 16-bit pattern.
    static let halfTable: [Float] = (0...UInt16.max).map(halfToFloat)

    /// IEEE 754 binary16 bits to float32, exactly (subnormals, infinities and NaN payloads included).
    ///
    /// Bit manipulation rather than `Float16`, which is unavailable on some platforms (macOS on x86).
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h & 0x7C00)
        let mantissa = UInt32(h & 0x03FF)
        if exponent == 0x7C00 {                 // inf / NaN: keep the payload
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {                      // zero / subnormal: mantissa * 2^-24, exact in float32
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        // Normal: rebias the exponent from 15 to 127.
        return Float(bitPattern: sign | ((exponent >> 10) + 112) << 23 | (mantissa << 13))
    }
}
