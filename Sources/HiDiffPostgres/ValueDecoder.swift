import CLibPQ
import Foundation

/// Decodes a column value in text format (the session runs with DateStyle ISO, TimeZone UTC, bytea hex).
enum ValueDecoder {
    /// Decodes `length` bytes at `pointer` of a column of type `oid`.
    static func decode(oid: UInt32, pointer: UnsafePointer<CChar>, length: Int) -> PostgresValue {
        switch oid {
        case PostgresOID.bytea:
            return .bytes(unescapeBytea(pointer))
        default:
            break
        }
        let text = String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
        switch oid {
        case PostgresOID.bool:
            return .bool(text == "t")
        case PostgresOID.int2, PostgresOID.int4, PostgresOID.int8, PostgresOID.oid:
            if let int = Int64(text) { return .int(int) }
            return .text(text)
        case PostgresOID.float4, PostgresOID.float8:
            return parseDouble(text).map(PostgresValue.double) ?? .text(text)
        case PostgresOID.numeric:
            if !text.contains("."), !text.contains("e"), let int = Int64(text) { return .int(int) }
            return parseDouble(text).map(PostgresValue.double) ?? .text(text)
        case PostgresOID.timestamptz, PostgresOID.timestamp:
            return parseTimestamp(text).map(PostgresValue.timestamp) ?? .text(text)
        case PostgresOID.json, PostgresOID.jsonb:
            return .json(text)
        case PostgresOID.textArray, PostgresOID.varcharArray, PostgresOID.nameArray, PostgresOID.bpcharArray:
            return parseArray(text).map(PostgresValue.textArray) ?? .text(text)
        default:
            return .text(text)
        }
    }

    /// bytea in hex output (`\x0a0b...`), decoded by libpq.
    static func unescapeBytea(_ pointer: UnsafePointer<CChar>) -> [UInt8] {
        var length = 0
        let raw = UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self)
        guard let decoded = PQunescapeBytea(raw, &length) else { return [] }
        defer { PQfreemem(decoded) }
        return Array(UnsafeBufferPointer(start: decoded, count: length))
    }

    static func parseDouble(_ text: String) -> Double? {
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return Double(text)
        }
    }

    /// `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]]`, `infinity`, `-infinity`; nil for anything else (BC dates).
    static func parseTimestamp(_ text: String) -> Date? {
        if text == "infinity" { return .distantFuture }
        if text == "-infinity" { return .distantPast }
        let bytes = Array(text.utf8)
        var i = 0
        func number(_ digits: Int) -> Int? {
            guard i + digits <= bytes.count else { return nil }
            var value = 0
            for k in 0..<digits {
                let b = bytes[i + k]
                guard b >= 48, b <= 57 else { return nil }
                value = value * 10 + Int(b - 48)
            }
            i += digits
            return value
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < bytes.count, bytes[i] == c else { return false }
            i += 1
            return true
        }
        // Years may have more than four digits.
        var yearDigits = 0
        while yearDigits < bytes.count, bytes[yearDigits] >= 48, bytes[yearDigits] <= 57 { yearDigits += 1 }
        guard yearDigits >= 4, let year = number(yearDigits), expect(45), let month = number(2), expect(45),
              let day = number(2), expect(32), let hour = number(2), expect(58), let minute = number(2),
              expect(58), let second = number(2) else { return nil }
        var fraction = 0.0
        if expect(46) {
            var scale = 0.1
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                fraction += Double(bytes[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        var offset = 0
        if i < bytes.count, bytes[i] == 43 || bytes[i] == 45 {
            let sign = bytes[i] == 45 ? -1 : 1
            i += 1
            guard let hours = number(2) else { return nil }
            var seconds = hours * 3600
            if expect(58), let minutes = number(2) { seconds += minutes * 60 }
            if expect(58), let secs = number(2) { seconds += secs }
            offset = sign * seconds
        }
        guard i == bytes.count else { return nil }   // " BC" and other oddities: keep as text
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
        return Date(timeIntervalSince1970: seconds + fraction)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// A one-dimensional array literal `{a,"b c",\"}` -> elements; nil when it holds NULL or nested arrays.
    static func parseArray(_ text: String) -> [String]? {
        var chars = Array(text.unicodeScalars)
        // A dimension decoration "[0:1]={...}" is not produced for default lower bounds; treat it as opaque.
        guard chars.first == "{", chars.last == "}" else { return nil }
        chars.removeFirst()
        chars.removeLast()
        if chars.isEmpty { return [] }
        var elements: [String] = []
        var i = 0
        while i <= chars.count {
            var element = String.UnicodeScalarView()
            if i < chars.count, chars[i] == "\"" {
                i += 1
                while i < chars.count, chars[i] != "\"" {
                    if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                    element.append(chars[i])
                    i += 1
                }
                guard i < chars.count else { return nil }
                i += 1   // closing quote
            } else {
                while i < chars.count, chars[i] != "," {
                    if chars[i] == "{" { return nil }
                    if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                    element.append(chars[i])
                    i += 1
                }
                if String(element) == "NULL" { return nil }
            }
            elements.append(String(element))
            guard i < chars.count else { break }
            guard chars[i] == "," else { return nil }
            i += 1
        }
        return elements
    }
}
