import Foundation

/// The column names of a result, shared by its rows.
final class ColumnIndex: Sendable {
    let names: [String]
    let positions: [String: Int]

    init(names: [String]) {
        self.names = names
        var positions: [String: Int] = [:]
        for (i, name) in names.enumerated() where positions[name] == nil { positions[name] = i }
        self.positions = positions
    }
}

/// One result row, decoded. Accessors take a column name and throw a `PostgresError` that names the column
/// when it is missing, NULL (for the non-optional accessors) or of another type.
public struct PostgresRow: Sendable {
    let index: ColumnIndex
    /// The decoded values, in column order.
    public let values: [PostgresValue]

    init(index: ColumnIndex, values: [PostgresValue]) {
        self.index = index
        self.values = values
    }

    /// The column names, in order.
    public var columns: [String] { index.names }

    /// The value of column `c`, or nil when the result has no such column.
    public subscript(_ c: String) -> PostgresValue? {
        index.positions[c].map { values[$0] }
    }

    /// The value of column `c`; throws when there is no such column.
    public func value(_ c: String) throws -> PostgresValue {
        guard let position = index.positions[c] else {
            throw PostgresError.decoding("no column '\(c)' in the row (columns: \(index.names.joined(separator: ", ")))")
        }
        return values[position]
    }

    /// A text (or json) column.
    public func string(_ c: String) throws -> String { try required(c, "text", optionalString(c)) }
    /// A text (or json) column that may be NULL.
    public func optionalString(_ c: String) throws -> String? {
        switch try value(c) {
        case .null: return nil
        case .text(let s), .json(let s): return s
        case let other: throw mismatch(c, "text", other)
        }
    }

    /// An integer column (int2/int4/int8, or a numeric without fraction).
    public func int(_ c: String) throws -> Int64 { try required(c, "int", optionalInt(c)) }
    /// An integer column that may be NULL.
    public func optionalInt(_ c: String) throws -> Int64? {
        switch try value(c) {
        case .null: return nil
        case .int(let i): return i
        case let other: throw mismatch(c, "int", other)
        }
    }

    /// A floating-point or numeric column (integers are converted).
    public func double(_ c: String) throws -> Double { try required(c, "double", optionalDouble(c)) }
    /// A floating-point or numeric column that may be NULL.
    public func optionalDouble(_ c: String) throws -> Double? {
        switch try value(c) {
        case .null: return nil
        case .double(let d): return d
        case .int(let i): return Double(i)
        case let other: throw mismatch(c, "double", other)
        }
    }

    /// A bool column.
    public func bool(_ c: String) throws -> Bool { try required(c, "bool", optionalBool(c)) }
    /// A bool column that may be NULL.
    public func optionalBool(_ c: String) throws -> Bool? {
        switch try value(c) {
        case .null: return nil
        case .bool(let b): return b
        case let other: throw mismatch(c, "bool", other)
        }
    }

    /// A bytea column.
    public func bytes(_ c: String) throws -> [UInt8] { try required(c, "bytea", optionalBytes(c)) }
    /// A bytea column that may be NULL.
    public func optionalBytes(_ c: String) throws -> [UInt8]? {
        switch try value(c) {
        case .null: return nil
        case .bytes(let b): return b
        case let other: throw mismatch(c, "bytea", other)
        }
    }

    /// A timestamp / timestamptz column.
    public func date(_ c: String) throws -> Date { try required(c, "timestamp", optionalDate(c)) }
    /// A timestamp / timestamptz column that may be NULL.
    public func optionalDate(_ c: String) throws -> Date? {
        switch try value(c) {
        case .null: return nil
        case .timestamp(let d): return d
        case let other: throw mismatch(c, "timestamp", other)
        }
    }

    /// A one-dimensional text[] (or varchar[]/name[]) column without NULL elements.
    public func stringArray(_ c: String) throws -> [String] { try required(c, "text[]", optionalStringArray(c)) }
    /// A text[] column that may be NULL.
    public func optionalStringArray(_ c: String) throws -> [String]? {
        switch try value(c) {
        case .null: return nil
        case .textArray(let a): return a
        case let other: throw mismatch(c, "text[] (one-dimensional, no NULL elements)", other)
        }
    }

    private func required<T>(_ c: String, _ type: String, _ value: T?) throws -> T {
        guard let value else {
            throw PostgresError.decoding("column '\(c)' is NULL, expected \(type)")
        }
        return value
    }

    private func mismatch(_ c: String, _ expected: String, _ actual: PostgresValue) -> PostgresError {
        PostgresError.decoding("column '\(c)' holds \(actual.kindName), expected \(expected)")
    }
}
