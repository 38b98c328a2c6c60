import Foundation

/// The fields of one JSON object, read by type: a missing field and `null` both read as nil (the default
/// applies), a value of the wrong type throws a 422 naming the field (with `prefix`, e.g.
/// "override_settings.sd_model_checkpoint").
struct JSONFields: Sendable {
    let values: [String: JSONValue]
    let prefix: String

    init(_ values: [String: JSONValue], prefix: String = "") {
        self.values = values
        self.prefix = prefix
    }

    /// Parses a request body: 400 when it is not JSON, 422 when it is not an object.
    init(body: Data) throws {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: body)
        } catch {
            throw APIError.malformed(body.isEmpty ? "the body is empty" : Self.describe(error))
        }
        guard case .object(let object) = value else {
            throw APIError(.unprocessableContent, "the request body must be a JSON object (got \(value.typeName))",
                           field: "body", kind: "type_error")
        }
        self.init(object)
    }

    func name(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    private func present(_ key: String) -> JSONValue? {
        guard let value = values[key], value != .null else { return nil }
        return value
    }

    func string(_ key: String) throws -> String? {
        guard let value = present(key) else { return nil }
        guard case .string(let s) = value else { throw APIError.wrongType(name(key), expected: "a string", got: value) }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = present(key) else { return nil }
        guard case .bool(let b) = value else { throw APIError.wrongType(name(key), expected: "a boolean", got: value) }
        return b
    }

    /// An integer (a number with no fraction, such as 512.0, counts as one).
    func int(_ key: String) throws -> Int? {
        guard let value = present(key) else { return nil }
        switch value {
        case .int(let i) where i >= Int64(Int.min) && i <= Int64(Int.max): return Int(i)
        case .double(let d) where d.rounded() == d && abs(d) < 9.0e15: return Int(d)
        case .uint, .int:
            throw APIError.invalid(name(key), "is out of range")
        default:
            throw APIError.wrongType(name(key), expected: "an integer", got: value)
        }
    }

    /// A seed: -1 (random) or 0 ... 2^64 - 1.
    func seed(_ key: String) throws -> SeedValue? {
        guard let value = present(key) else { return nil }
        switch value {
        case .int(let i) where i == -1: return .random
        case .int(let i) where i >= 0: return .fixed(UInt64(i))
        case .uint(let u): return .fixed(u)
        case .double(let d) where d == -1: return .random
        case .double(let d) where d.rounded() == d && d >= 0 && d < 9.0e15: return .fixed(UInt64(d))
        case .int, .double: throw APIError.invalid(name(key), "must be -1 (random) or from 0 to \(UInt64.max)")
        default: throw APIError.wrongType(name(key), expected: "an integer", got: value)
        }
    }

    func double(_ key: String) throws -> Double? {
        guard let value = present(key) else { return nil }
        switch value {
        case .int(let i): return Double(i)
        case .uint(let u): return Double(u)
        case .double(let d): return d
        default: throw APIError.wrongType(name(key), expected: "a number", got: value)
        }
    }

    func strings(_ key: String) throws -> [String]? {
        guard let value = present(key) else { return nil }
        guard case .array(let items) = value else { throw APIError.wrongType(name(key), expected: "an array of strings", got: value) }
        return try items.enumerated().map { i, item in
            guard case .string(let s) = item else {
                throw APIError.wrongType("\(name(key)).\(i)", expected: "a string", got: item)
            }
            return s
        }
    }

    /// Seeds as a list of non-negative integers.
    func seeds(_ key: String) throws -> [UInt64]? {
        guard let value = present(key) else { return nil }
        guard case .array(let items) = value else { throw APIError.wrongType(name(key), expected: "an array of integers", got: value) }
        return try items.enumerated().map { i, item in
            switch item {
            case .int(let n) where n >= 0: return UInt64(n)
            case .uint(let u): return u
            case .int: throw APIError.invalid("\(name(key)).\(i)", "must be from 0 to \(UInt64.max)")
            default: throw APIError.wrongType("\(name(key)).\(i)", expected: "an integer", got: item)
            }
        }
    }

    func object(_ key: String) throws -> JSONFields? {
        guard let value = present(key) else { return nil }
        guard case .object(let o) = value else { throw APIError.wrongType(name(key), expected: "an object", got: value) }
        return JSONFields(o, prefix: name(key))
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return (context.underlyingError.map { "\($0)" } ?? context.debugDescription)
        }
        return "\(error)"
    }
}
