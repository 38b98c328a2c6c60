import Foundation

/// A strict reader of Prometheus' text exposition format (0.0.4): `# HELP` / `# TYPE` lines, then samples
/// `name{label="value",...} number`; any other line is an error. Samples are keyed by name and sorted labels.
struct PrometheusText {
    private(set) var samples: [String: Double] = [:]
    private(set) var types: [String: String] = [:]

    struct ParseError: Error, CustomStringConvertible {
        let line: String
        var description: String { "not Prometheus text format: \(line)" }
    }

    init(_ text: String) throws {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                    throw ParseError(line: String(line))
                }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) ?? Self.special(line[line.index(after: space)...]) else {
                throw ParseError(line: String(line))
            }
            let series = line[..<space]
            var name = series, labels: [String] = []
            if let brace = series.firstIndex(of: "{") {
                guard series.hasSuffix("}") else { throw ParseError(line: String(line)) }
                name = series[..<brace]
                let inner = series[series.index(after: brace)..<series.index(before: series.endIndex)]
                for pair in inner.split(separator: ",") where !pair.isEmpty {
                    guard let eq = pair.firstIndex(of: "="), pair[pair.index(after: eq)...].hasPrefix("\""),
                          pair.hasSuffix("\"") else { throw ParseError(line: String(line)) }
                    labels.append(String(pair))
                }
            }
            guard name.first.map({ $0.isLetter || $0 == "_" || $0 == ":" }) == true,
                  name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }) else {
                throw ParseError(line: String(line))
            }
            samples[Self.key(String(name), labels.sorted())] = value
        }
    }

    private static func special(_ text: Substring) -> Double? {
        switch text { case "+Inf": .infinity; case "-Inf": -.infinity; case "NaN": .nan; default: nil }
    }

    static func key(_ name: String, _ labels: [String]) -> String {
        labels.isEmpty ? name : "\(name){\(labels.joined(separator: ","))}"
    }

    /// A sample's value, or nil when absent: `value("hidiff_jobs", ["state": "queued"])`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples[Self.key(name, labels.map { "\($0.key)=\"\($0.value)\"" }.sorted())]
    }
}
