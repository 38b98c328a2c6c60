/// A diffusers config value given either once for every block or as a per-block list
/// (e.g. `attention_head_dim: 8` in SD 1.5, `[5, 10, 20, 20]` in SD 2.1).
public enum PerBlockValue<Value: Decodable & Sendable & Equatable>: Decodable, Sendable, Equatable {
    case uniform(Value)
    case perBlock([Value])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Value.self) {
            self = .uniform(value)
        } else {
            self = .perBlock(try container.decode([Value].self))
        }
    }

    /// One value per block; a list must have exactly `count` entries.
    public func values(count: Int, field: String) throws -> [Value] {
        switch self {
        case .uniform(let v):
            return Array(repeating: v, count: count)
        case .perBlock(let list):
            guard list.count == count else {
                throw ModelConfigError.invalid(
                    field: field, reason: "has \(list.count) entries for \(count) blocks")
            }
            return list
        }
    }
}
