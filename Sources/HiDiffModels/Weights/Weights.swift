import HiDiffCore

/// A view of a `TensorSource` under a dotted key prefix, e.g. `weights.scoped("down_blocks.0.resnets.1")`.
///
/// Models take the tensors they need through `callAsFunction(_:shape:)`, which checks the shape so a
/// wrong checkpoint fails at load time with an error naming the tensor, the file and both shapes.
public struct Weights: Sendable {
    /// The underlying checkpoint.
    public let source: any TensorSource
    /// The dotted prefix of this view without a trailing dot ("" for the root).
    public let prefix: String
    /// The precision `matrix(_:shape:)` keeps layer weights in (norms, biases and embeddings stay float32).
    public let precision: Precision

    /// A view of `source` under `prefix` ("" for all tensors; a trailing "." is optional).
    public init(_ source: any TensorSource, prefix: String = "", precision: Precision = .fp32) {
        self.source = source
        self.prefix = prefix.hasSuffix(".") ? String(prefix.dropLast()) : prefix
        self.precision = precision
    }

    /// The view under `component`, appended to this prefix with a dot.
    public func scoped(_ component: String) -> Weights {
        component.isEmpty ? self : Weights(source, prefix: fullName(component), precision: precision)
    }

    /// The same view with layer weights kept at `precision`.
    public func with(precision: Precision) -> Weights {
        Weights(source, prefix: prefix, precision: precision)
    }

    /// The weight of a linear layer or convolution `name`, which must have exactly `shape`, kept at this
    /// view's precision.
    public func matrix(_ name: String, shape: [Int]) throws -> LayerWeight {
        LayerWeight(try self(name, shape: shape), precision: precision)
    }

    /// Like `matrix(_:shape:)`, but nil when the tensor is absent.
    public func optionalMatrix(_ name: String, shape: [Int]) throws -> LayerWeight? {
        try optional(name, shape: shape).map { LayerWeight($0, precision: precision) }
    }

    /// The name of `name` in the underlying source (the prefix joined with a dot).
    public func fullName(_ name: String) -> String {
        prefix.isEmpty ? name : prefix + "." + name
    }

    /// Whether the tensor `name` (relative to the prefix) is present.
    public func contains(_ name: String) -> Bool {
        source.contains(fullName(name))
    }

    /// The shape of `name` (relative to the prefix), or nil when it is absent.
    public func shape(of name: String) -> [Int]? {
        source.shape(of: fullName(name))
    }

    /// The names under this prefix, relative to it, in the source's order.
    public var names: [String] {
        if prefix.isEmpty { return source.names }
        let p = prefix + "."
        return source.names.compactMap { $0.hasPrefix(p) ? String($0.dropFirst(p.count)) : nil }
    }

    /// The tensor `name` (relative to the prefix), which must have exactly `shape`.
    ///
    /// - Throws: `WeightError.missing` when absent, `WeightError.shapeMismatch` (full name, expected,
    ///   found, file) when the shape differs, or the source's error when the data cannot be read.
    public func callAsFunction(_ name: String, shape: [Int]) throws -> Tensor {
        let full = fullName(name)
        guard let found = source.shape(of: full) else {
            throw WeightError.missing(name: full, file: source.origin)
        }
        return try load(full, found: found, expected: shape)
    }

    /// Like `callAsFunction(_:shape:)`, but nil when the tensor is absent (a present tensor with a wrong
    /// shape still throws).
    public func optional(_ name: String, shape: [Int]) throws -> Tensor? {
        let full = fullName(name)
        guard let found = source.shape(of: full) else { return nil }
        return try load(full, found: found, expected: shape)
    }

    private func load(_ full: String, found: [Int], expected: [Int]) throws -> Tensor {
        // Check before converting, so a mismatch costs no I/O.
        guard found == expected else {
            throw WeightError.shapeMismatch(name: full, expected: expected, found: found, file: source.origin(of: full))
        }
        let t = try source.load(full)
        guard t.shape == expected else {
            throw WeightError.shapeMismatch(name: full, expected: expected, found: t.shape, file: source.origin(of: full))
        }
        // A NaN weight would only show as a black image after the whole generation: refuse it at load.
        guard t.isFinite else { throw WeightError.nonFinite(name: full, file: source.origin(of: full)) }
        return t
    }
}
