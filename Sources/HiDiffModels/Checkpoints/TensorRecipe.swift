import HiDiffCore

/// How one tensor of a diffusers-named view is made from a checkpoint tensor: copied, reshaped, a block of
/// rows, or transposed. Shapes are computed without reading data.
public struct TensorRecipe: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        /// The tensor as stored.
        case copy
        /// The same elements with trailing size-1 axes dropped (a 1x1 convolution weight used as a linear
        /// weight: [O, I, 1, 1] or [O, I, 1] -> [O, I]).
        case squeezeTrailingOnes
        /// Part `index` of `count` equal blocks of rows (axis 0), e.g. q, k or v of a fused `in_proj` weight.
        case rowBlock(index: Int, count: Int)
        /// A 2-D transpose (OpenCLIP's `text_projection` is stored [in, out]).
        case transpose
    }

    /// The checkpoint's tensor name.
    public var source: String
    public var operation: Operation

    public init(_ source: String, _ operation: Operation = .copy) {
        self.source = source
        self.operation = operation
    }

    /// The result's shape for a stored tensor of `shape`, or nil when the operation does not apply to it.
    public func shape(from shape: [Int]) -> [Int]? {
        switch operation {
        case .copy:
            return shape
        case .squeezeTrailingOnes:
            guard shape.count >= 2, shape.dropFirst(2).allSatisfy({ $0 == 1 }) else { return nil }
            return Array(shape.prefix(2))
        case let .rowBlock(index, count):
            guard let rows = shape.first, count > 0, rows % count == 0, index >= 0, index < count else { return nil }
            return [rows / count] + shape.dropFirst()
        case .transpose:
            guard shape.count == 2 else { return nil }
            return [shape[1], shape[0]]
        }
    }

    /// Applies the operation to the loaded tensor (whose shape `shape(from:)` accepted).
    public func apply(_ t: Tensor) -> Tensor {
        switch operation {
        case .copy:
            return t
        case .squeezeTrailingOnes:
            return t.reshaped(Array(t.shape.prefix(2)))
        case let .rowBlock(index, count):
            let rows = t.dim(0) / count
            return t.slice(axis: 0, index * rows..<(index + 1) * rows)
        case .transpose:
            return t.permuted([1, 0])
        }
    }
}
