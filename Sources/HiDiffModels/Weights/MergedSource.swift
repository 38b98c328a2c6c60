import HiDiffCore

/// Several `TensorSource`s seen as one (the shards of a sharded checkpoint, or separate files).
///
/// Each name must come from exactly one source, so merging never silently prefers one copy.
public struct MergedSource: TensorSource {
    /// The merged sources, in the order given.
    public let sources: [any TensorSource]
    private let owner: [String: Int]

    /// Merges `sources`; throws `WeightError.duplicateTensor` when two of them hold the same name.
    public init(_ sources: [any TensorSource]) throws {
        var owner: [String: Int] = [:]
        for (i, s) in sources.enumerated() {
            for name in s.names {
                if let j = owner[name] {
                    throw WeightError.duplicateTensor(name: name, files: [sources[j].origin, s.origin])
                }
                owner[name] = i
            }
        }
        self.sources = sources
        self.owner = owner
    }

    public var origin: String { sources.map(\.origin).joined(separator: " + ") }

    /// All names, grouped by source in the order given.
    public var names: [String] { sources.flatMap(\.names) }

    public func contains(_ name: String) -> Bool { owner[name] != nil }

    public func shape(of name: String) -> [Int]? {
        owner[name].flatMap { sources[$0].shape(of: name) }
    }

    /// The origin (file) of the source holding `name`, or of all sources when none does.
    public func origin(of name: String) -> String {
        owner[name].map { sources[$0].origin(of: name) } ?? origin
    }

    public func load(_ name: String) throws -> Tensor {
        guard let i = owner[name] else { throw WeightError.missing(name: name, file: origin) }
        return try sources[i].load(name)
    }
}
