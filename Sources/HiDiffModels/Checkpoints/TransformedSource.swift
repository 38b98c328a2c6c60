import HiDiffCore

/// A `TensorSource` exposing another source's tensors under new names, each made by a `TensorRecipe`
/// (renamed, reshaped, split or transposed) when it is loaded. This is how a single-file checkpoint in the
/// original Stable Diffusion layout is read with diffusers' names: one stored tensor is converted at a time,
/// straight from the memory map.
public struct TransformedSource: TensorSource {
    /// The source holding the data.
    public let base: any TensorSource
    /// Exposed name -> recipe.
    public let recipes: [String: TensorRecipe]

    public init(_ base: any TensorSource, recipes: [String: TensorRecipe]) {
        self.base = base
        self.recipes = recipes
    }

    public var origin: String { base.origin }

    public func origin(of name: String) -> String {
        recipes[name].map { base.origin(of: $0.source) } ?? origin
    }

    /// Exposed names whose stored tensor exists, sorted.
    public var names: [String] {
        recipes.compactMap { base.contains($0.value.source) ? $0.key : nil }.sorted()
    }

    public func contains(_ name: String) -> Bool {
        recipes[name].map { base.contains($0.source) } ?? false
    }

    public func shape(of name: String) -> [Int]? {
        guard let r = recipes[name], let stored = base.shape(of: r.source) else { return nil }
        return r.shape(from: stored)
    }

    /// Reads the stored tensor and applies the recipe; a missing or unconvertible tensor is reported under
    /// the exposed name together with the stored name.
    public func load(_ name: String) throws -> Tensor {
        guard let r = recipes[name] else { throw WeightError.missing(name: name, file: origin) }
        guard let stored = base.shape(of: r.source) else {
            throw WeightError.missing(name: name, file: "\(origin) (looked up as '\(r.source)')")
        }
        guard r.shape(from: stored) != nil else {
            throw WeightError.badTensorEntry(name: r.source, file: origin,
                                             reason: "shape \(stored) cannot be converted (\(r.operation)) to '\(name)'")
        }
        return r.apply(try base.load(r.source))
    }
}
