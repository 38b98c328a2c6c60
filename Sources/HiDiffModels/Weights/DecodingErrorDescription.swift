/// A one-line explanation of a JSON decoding error naming the offending field path (no framework codes).
public func describeDecodingError(_ error: any Error) -> String {
    func path(_ keys: [any CodingKey]) -> String {
        let p = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return p.isEmpty ? "the top level" : "'\(p)'"
    }
    guard let e = error as? DecodingError else { return String(describing: error) }
    switch e {
    case let .keyNotFound(key, ctx):
        return "missing field '\(key.stringValue)' at \(path(ctx.codingPath))"
    case let .typeMismatch(type, ctx):
        return "field \(path(ctx.codingPath)) is not of type \(type)"
    case let .valueNotFound(type, ctx):
        return "field \(path(ctx.codingPath)) is null, expected \(type)"
    case let .dataCorrupted(ctx):
        let underlying = ctx.underlyingError.map { " (\($0))" } ?? ""
        return "malformed JSON at \(path(ctx.codingPath)): \(ctx.debugDescription)\(underlying)"
    @unknown default:
        return String(describing: e)
    }
}
