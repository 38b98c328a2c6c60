import HiDiffCore

/// A `TensorSource` that exposes another source's tensors under new names.
///
/// `map` goes from the exposed name to the underlying name, e.g.
/// `["conv_in.weight": "model.diffusion_model.input_blocks.0.0.weight"]`; this is how a single-file
/// checkpoint in the original Stable Diffusion layout is read with diffusers names.
public struct RemappedSource: TensorSource {
    /// The source holding the data.
    public let base: any TensorSource
    /// Exposed name -> underlying name.
    public let map: [String: String]
    /// Whether underlying names that no mapping targets are also exposed unchanged.
    public let passThroughUnmapped: Bool

    private let mappedTargets: Set<String>

    /// Exposes `source` under `map` (exposed name -> underlying name); with `passThroughUnmapped`, names of
    /// `source` that no entry of `map` targets keep their name (unless an exposed name shadows them).
    public init(_ source: any TensorSource, map: [String: String], passThroughUnmapped: Bool = false) {
        self.base = source
        self.map = map
        self.passThroughUnmapped = passThroughUnmapped
        self.mappedTargets = Set(map.values)
    }

    public var origin: String { base.origin }

    public func origin(of name: String) -> String {
        underlyingName(name).map(base.origin(of:)) ?? origin
    }

    /// The underlying name of `name`, or nil when this source does not expose it.
    public func underlyingName(_ name: String) -> String? {
        if let target = map[name] { return target }
        if passThroughUnmapped, !mappedTargets.contains(name) { return name }
        return nil
    }

    /// Exposed names whose underlying tensor exists, sorted.
    public var names: [String] {
        var out = map.compactMap { base.contains($0.value) ? $0.key : nil }
        if passThroughUnmapped {
            out += base.names.filter { !mappedTargets.contains($0) && map[$0] == nil }
        }
        return out.sorted()
    }

    public func contains(_ name: String) -> Bool {
        underlyingName(name).map(base.contains) ?? false
    }

    public func shape(of name: String) -> [Int]? {
        underlyingName(name).flatMap(base.shape(of:))
    }

    /// Reads the underlying tensor; a missing one is reported under the exposed name, with the name looked up.
    public func load(_ name: String) throws -> Tensor {
        guard let target = underlyingName(name) else {
            throw WeightError.missing(name: name, file: origin)
        }
        guard base.contains(target) else {
            let file = target == name ? origin : "\(origin) (looked up as '\(target)')"
            throw WeightError.missing(name: name, file: file)
        }
        return try base.load(target)
    }
}
