/// A dense float32 tensor in row-major (C-contiguous) order; image tensors are NCHW.
///
/// A value type: `data` is a copy-on-write Swift array, so passing tensors around is cheap and
/// mutation never aliases. Hot kernels reach the storage through `withUnsafe...` pointers.
public struct Tensor: Sendable, Equatable {
    /// The extent of each axis, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `data.count == shape.reduce(1, *)`.
    public var data: [Float]

    /// Wraps `data` with `shape`; the element counts must agree.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(shape.reduce(1, *) == data.count,
                     "shape \(shape) holds \(shape.reduce(1, *)) elements, data has \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A zero tensor of `shape`.
    public init(zeros shape: [Int]) {
        self.init(repeating: 0, shape: shape)
    }

    /// A tensor whose elements are written by `body` into uninitialised storage of `shape`'s size.
    public init(shape: [Int], unsafeUninitialized body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let n = shape.reduce(1, *)
        // An empty tensor shares Swift's empty-array storage: never hand it to a writer (even of 0 bytes).
        if n == 0 {
            self.init(shape: shape, data: [])
            return
        }
        let data = [Float](unsafeUninitializedCapacity: n) { buf, count in
            body(buf)
            count = n
        }
        self.init(shape: shape, data: data)
    }

    /// Number of elements.
    @inlinable public var count: Int { data.count }
    /// Number of axes.
    @inlinable public var rank: Int { shape.count }

    /// The extent of axis `i` (negative counts from the end).
    @inlinable public func dim(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }

    /// The same elements viewed with another shape of the same element count; one extent may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            s[i] = count / known
        }
        var t = self
        precondition(s.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        t.shape = s
        return t
    }

    /// Largest absolute element (0 for an empty tensor).
    public var maxAbs: Float {
        data.withUnsafeBufferPointer { p in p.reduce(0) { max($0, abs($1)) } }
    }

    /// Largest absolute elementwise difference to `other`, which must have the same shape.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "shape \(shape) vs \(other.shape)")
        var m: Float = 0
        data.withUnsafeBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
            }
        }
        return m
    }
}
