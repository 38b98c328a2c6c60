import HiDiffKernels

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
        // `guard ... fatalError`, not `precondition`: this module is built with -Ounchecked, which drops
        // preconditions, and a wrong count here would let kernels write past the buffer.
        let n = Self.elementCount(shape)
        guard n == data.count else { fatalError("shape \(shape) holds \(n) elements, data has \(data.count)") }
        self.shape = shape
        self.data = data
    }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: value, count: Self.elementCount(shape)))
    }

    /// A zero tensor of `shape`.
    public init(zeros shape: [Int]) {
        self.init(repeating: 0, shape: shape)
    }

    /// A tensor whose elements are written by `body` into uninitialised storage of `shape`'s size.
    public init(shape: [Int], unsafeUninitialized body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let n = Self.elementCount(shape)
        // An empty tensor shares Swift's empty-array storage: never hand it to a writer (even of 0 bytes).
        if n == 0 {
            self.init(shape: shape, data: [])
            return
        }
        let data = [Float](unsafeUninitializedCapacity: n) { buf, count in
            HugePages.advise(buf)
            body(buf)
            count = n
        }
        self.init(shape: shape, data: data)
    }

    /// The number of elements of `shape`, computed without overflow: a negative extent or a product past
    /// `Int.max` stops the process here instead of allocating a wrapped-around size. Requests and files are
    /// validated long before this; it is the last guard, in a module compiled without checks.
    public static func elementCount(_ shape: [Int]) -> Int {
        var n = 1
        for extent in shape {
            guard extent >= 0 else { fatalError("negative extent in shape \(shape)") }
            let (product, overflow) = n.multipliedReportingOverflow(by: extent)
            guard !overflow else { fatalError("shape \(shape) has more elements than Int can count") }
            n = product
        }
        return n
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
            var rest = s
            rest.remove(at: i)
            let known = Self.elementCount(rest)
            guard known > 0 && count % known == 0 else { fatalError("cannot reshape \(shape) to \(newShape)") }
            s[i] = count / known
        }
        var t = self
        guard Self.elementCount(s) == count else { fatalError("cannot reshape \(shape) to \(newShape)") }
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
