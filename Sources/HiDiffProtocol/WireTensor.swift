/// A float tensor as it travels: its shape and its elements in row-major order.
///
/// Wire layout: rank (u8, at most `maxRank`), each dimension (u32 LE), then the product of the dimensions times
/// four bytes of IEEE-754 binary32, little-endian. The element count is implied by the shape, so a decoder checks
/// it against the bytes actually present before allocating anything.
///
/// Equality is bitwise on the elements (a NaN equals the same NaN, 0.0 differs from -0.0): a tensor must arrive
/// exactly as it was sent, and a wire value must always equal itself.
public struct WireTensor: Sendable, Equatable {
    /// Dimensions, each in 0...UInt32.max. An empty shape is a scalar (one element).
    public var shape: [Int]
    /// Elements, `shape.reduce(1, *)` of them.
    public var data: [Float]

    /// The highest rank the wire format allows.
    public static let maxRank = 8

    /// Memberwise; `data.count` should equal the product of `shape` (`FrameCodec.encodeChecked` enforces it).
    public init(shape: [Int], data: [Float]) {
        self.shape = shape
        self.data = data
    }

    /// A zero-element tensor of shape [0], for messages that have no latents to send.
    public static let empty = WireTensor(shape: [0], data: [])

    /// The number of elements `shape` describes, or nil when a dimension is out of range or the product overflows.
    public static func elementCount(of shape: [Int]) -> Int? {
        guard shape.allSatisfy({ $0 >= 0 && $0 <= Int(UInt32.max) }) else { return nil }
        if shape.contains(0) { return 0 }  // a zero dimension empties the tensor whatever the others say
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    /// Bitwise element equality (see the type's comment).
    public static func == (lhs: WireTensor, rhs: WireTensor) -> Bool {
        guard lhs.shape == rhs.shape, lhs.data.count == rhs.data.count else { return false }
        for i in lhs.data.indices where lhs.data[i].bitPattern != rhs.data[i].bitPattern { return false }
        return true
    }
}
