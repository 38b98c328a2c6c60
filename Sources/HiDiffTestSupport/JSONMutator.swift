import Foundation

/// Seeded (SplitMix64) mutations of a JSON object (a model config, a generation request): values replaced by
/// 0, -1, 1e12, NaN/Infinity literals, strings or wrong types, keys removed, list entries or nested objects'
/// fields spoiled. Deterministic for a seed; the fuzz tests of every JSON decoder share it.
public struct JSONMutator {
    private var state: UInt64
    /// Replacement values as JSON text, picked from at random.
    public let values: [String]

    public init(seed: UInt64, values: [String] = JSONMutator.replacements) {
        state = seed
        self.values = values
    }

    /// The next raw 64-bit value of the stream (also used to drive byte-level mutations).
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func pick<T>(_ values: [T]) -> T { values[Int(next() % UInt64(values.count))] }

    /// Replacement values as JSON text (JSON5 literals included).
    public static let replacements = ["0", "-1", "1e12", "-1e12", "NaN", "Infinity", "-Infinity", "\"NaN\"", "\"1\"",
                               "null", "true", "[]", "{}", "1e-45", "3", "2147483648", "9223372036854775807",
                               "0.5", "[0]", "[-1, -1, -1, -1]", "[1e12]"]

    /// 1 to 3 mutations of `json`, serialised with placeholders swapped for their literal text.
    public mutating func mutate(_ json: [String: Any]) -> Data {
        var literals: [String: String] = [:]
        let object = spoil(json, literals: &literals, depth: 0)
        var text = String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: .sortedKeys)) ?? Data(),
                          as: UTF8.self)
        for (placeholder, literal) in literals {
            text = text.replacingOccurrences(of: "\"\(placeholder)\"", with: literal)
        }
        return Data(text.utf8)
    }

    private mutating func spoil(_ json: [String: Any], literals: inout [String: String], depth: Int) -> [String: Any] {
        var object = json
        for _ in 0..<(1 + Int(next() % 3)) {
            let m = literals.count
            let keys = object.keys.sorted()
            guard !keys.isEmpty else { break }
            let key = pick(keys)
            switch next() % 4 {
            case 0 where object[key] is [String: Any] && depth < 3:
                object[key] = spoil(object[key] as! [String: Any], literals: &literals, depth: depth + 1)
            case 0:
                object.removeValue(forKey: key)
            case 1 where object[key] is [Any]:
                var list = object[key] as! [Any]
                if !list.isEmpty {
                    let placeholder = "__M\(m)__"
                    list[Int(next() % UInt64(list.count))] = placeholder
                    literals[placeholder] = pick(["0", "-1", "1e12", "NaN", "\"x\"", "null", "7"])
                }
                object[key] = list
            default:
                let placeholder = "__M\(m)__"
                object[key] = placeholder
                literals[placeholder] = pick(values)
            }
        }
        return object
    }
}
