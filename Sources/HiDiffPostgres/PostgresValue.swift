import Foundation

/// A query parameter or a decoded column value.
///
/// As a parameter: `.text` is sent untyped (the server infers the type, as for a string literal), `.int` as
/// int8, `.double` as float8, `.bool` as bool, `.bytes` as bytea in binary format (any bytes, zeros
/// included), `.timestamp` as timestamptz (microsecond precision), `.json` as jsonb, `.textArray` as text[].
/// As a column value it is decoded from the column's type: integers (and integral numerics) -> `.int`,
/// floats and other numerics -> `.double`, bool, bytea -> `.bytes`, timestamp(tz) -> `.timestamp`,
/// json/jsonb -> `.json`, one-dimensional text-like arrays without NULLs -> `.textArray`, anything else -> `.text`.
public enum PostgresValue: Sendable, Equatable {
    case null
    case text(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case bytes([UInt8])
    case timestamp(Date)
    case json(String)
    case textArray([String])

    /// A short name of the case, for error messages.
    public var kindName: String {
        switch self {
        case .null: return "NULL"
        case .text: return "text"
        case .int: return "int"
        case .double: return "double"
        case .bool: return "bool"
        case .bytes: return "bytea"
        case .timestamp: return "timestamp"
        case .json: return "json"
        case .textArray: return "text[]"
        }
    }
}

/// Type OIDs (pg_type) the encoder and decoder know.
enum PostgresOID {
    static let unknown: UInt32 = 0
    static let bool: UInt32 = 16
    static let bytea: UInt32 = 17
    static let char: UInt32 = 18
    static let name: UInt32 = 19
    static let int8: UInt32 = 20
    static let int2: UInt32 = 21
    static let int4: UInt32 = 23
    static let text: UInt32 = 25
    static let oid: UInt32 = 26
    static let json: UInt32 = 114
    static let float4: UInt32 = 700
    static let float8: UInt32 = 701
    static let nameArray: UInt32 = 1003
    static let bpcharArray: UInt32 = 1014
    static let textArray: UInt32 = 1009
    static let varcharArray: UInt32 = 1015
    static let timestamp: UInt32 = 1114
    static let timestamptz: UInt32 = 1184
    static let numeric: UInt32 = 1700
    static let jsonb: UInt32 = 3802
}

/// One parameter as PQexecParams wants it: type OID, bytes (nil for NULL) and format (0 text, 1 binary).
struct EncodedParameter {
    var oid: UInt32
    var bytes: [UInt8]?
    var format: Int32

    /// Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
    static let postgresEpochOffset: Double = 946_684_800

    init(_ value: PostgresValue) {
        switch value {
        case .null:
            self.init(oid: PostgresOID.unknown, bytes: nil, format: 0)
        case .text(let string):
            self.init(oid: PostgresOID.unknown, bytes: Array(string.utf8), format: 0)
        case .int(let int):
            self.init(oid: PostgresOID.int8, bytes: EncodedParameter.bigEndian(UInt64(bitPattern: int)), format: 1)
        case .double(let double):
            self.init(oid: PostgresOID.float8, bytes: EncodedParameter.bigEndian(double.bitPattern), format: 1)
        case .bool(let bool):
            self.init(oid: PostgresOID.bool, bytes: [bool ? 1 : 0], format: 1)
        case .bytes(let bytes):
            self.init(oid: PostgresOID.bytea, bytes: bytes, format: 1)
        case .timestamp(let date):
            let micros = ((date.timeIntervalSince1970 - EncodedParameter.postgresEpochOffset) * 1_000_000).rounded()
            self.init(oid: PostgresOID.timestamptz, bytes: EncodedParameter.bigEndian(UInt64(bitPattern: Int64(micros))),
                      format: 1)
        case .json(let json):
            self.init(oid: PostgresOID.jsonb, bytes: Array(json.utf8), format: 0)
        case .textArray(let strings):
            self.init(oid: PostgresOID.textArray, bytes: Array(EncodedParameter.arrayLiteral(strings).utf8), format: 0)
        }
    }

    init(oid: UInt32, bytes: [UInt8]?, format: Int32) {
        self.oid = oid
        self.bytes = bytes
        self.format = format
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }

    /// `{"a","b \"c\""}`: every element quoted, backslashes and quotes escaped.
    static func arrayLiteral(_ strings: [String]) -> String {
        let elements = strings.map { element -> String in
            var escaped = "\""
            for scalar in element.unicodeScalars {
                if scalar == "\"" || scalar == "\\" { escaped.unicodeScalars.append("\\") }
                escaped.unicodeScalars.append(scalar)
            }
            return escaped + "\""
        }
        return "{" + elements.joined(separator: ",") + "}"
    }
}
