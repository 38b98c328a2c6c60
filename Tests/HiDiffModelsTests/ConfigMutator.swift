import Foundation

/// Seeded (SplitMix64) mutations of a JSON config: numbers replaced by 0, -1, 1e12, NaN/Infinity literals or
/// strings, keys removed, lists emptied or given a bad entry. Deterministic for a seed.
struct ConfigMutator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func pick<T>(_ values: [T]) -> T { values[Int(next() % UInt64(values.count))] }

    /// Replacement values as JSON text (JSON5 literals included).
    static let replacements = ["0", "-1", "1e12", "-1e12", "NaN", "Infinity", "-Infinity", "\"NaN\"", "\"1\"",
                               "null", "true", "[]", "{}", "1e-45", "3", "2147483648", "9223372036854775807",
                               "0.5", "[0]", "[-1, -1, -1, -1]", "[1e12]"]

    /// 1 to 3 mutations of `json`, serialised with placeholders swapped for their literal text.
    mutating func mutate(_ json: [String: Any]) -> Data {
        var object = json
        var literals: [String: String] = [:]
        for m in 0..<(1 + Int(next() % 3)) {
            let keys = object.keys.sorted()
            guard !keys.isEmpty else { break }
            let key = pick(keys)
            switch next() % 4 {
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
                literals[placeholder] = pick(Self.replacements)
            }
        }
        var text = String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: .sortedKeys)) ?? Data(),
                          as: UTF8.self)
        for (placeholder, literal) in literals {
            text = text.replacingOccurrences(of: "\"\(placeholder)\"", with: literal)
        }
        return Data(text.utf8)
    }
}
