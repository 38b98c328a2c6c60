import HiDiffCore
import NIOCore

/// One chunk of the data of one collective call between two members of a render group.
///
/// A tensor (or an all-reduce's values) larger than a chunk travels as `chunks` consecutive messages with the
/// same header fields and `chunk` = 0, 1, ...; each carries the elements from `elementOffset` on. The receiver
/// checks every field against what its own call expects.
///
/// Wire layout: group id u64, sequence u32, op u8, kind u8, origin u32, axis u8, chunk u32, chunks u32, shape
/// (rank u8, each dimension u32), element offset u64, data (u32 length + bytes: little-endian float32, or float64
/// for `PeerOp.allReduce`).
public struct PeerData: Sendable, Equatable {
    /// The group the link belongs to.
    public var groupID: UInt64
    /// The collective call this belongs to (every member numbers its calls from 1).
    public var sequence: UInt32
    /// What part of which call.
    public var op: PeerOp
    /// What the call carries (for accounting and agreement).
    public var kind: CollectiveKind
    /// The rank whose data this is: the sender for rows, the first sender of a block passed around the ring.
    public var origin: Int
    /// The axis the call splits (2 for rows, the gather axis, 0 for all-reduce values).
    public var axis: Int
    /// This chunk's index, 0..<chunks.
    public var chunk: Int
    /// How many chunks the whole tensor takes (at least 1).
    public var chunks: Int
    /// The whole tensor's shape (all chunks repeat it).
    public var shape: [Int]
    /// The index of this chunk's first element in the whole tensor.
    public var elementOffset: Int
    /// This chunk's elements as little-endian bytes (`op.elementSize` each).
    public var data: ByteBuffer

    /// The most element bytes one message may carry.
    public static let maxChunkBytes = 16 * 1024 * 1024
    /// A bound on every field but the data (header fields and a rank-8 shape), for the frame's maximum payload.
    public static let maxFieldBytes = 1024

    /// Memberwise; `validate()` (and the decoder) check the fields against each other.
    public init(groupID: UInt64, sequence: UInt32, op: PeerOp, kind: CollectiveKind, origin: Int, axis: Int,
                chunk: Int, chunks: Int, shape: [Int], elementOffset: Int, data: ByteBuffer) {
        self.groupID = groupID
        self.sequence = sequence
        self.op = op
        self.kind = kind
        self.origin = origin
        self.axis = axis
        self.chunk = chunk
        self.chunks = chunks
        self.shape = shape
        self.elementOffset = elementOffset
        self.data = data
    }

    /// Elements of the whole tensor.
    public var totalElements: Int { WireTensor.elementCount(of: shape) ?? 0 }
    /// Elements in this chunk.
    public var chunkElements: Int { data.readableBytes / op.elementSize }

    /// Throws the `ProtocolError` a decoder raises for these values: ranges, a shape the wire can carry, and
    /// chunk boundaries that fit the shape (the first chunk starts at 0, the last ends at the last element, no
    /// chunk but the last is empty, and no chunk holds more than `maxChunkBytes`).
    public func validate() throws {
        func invalid(_ field: String, _ reason: String) -> ProtocolError {
            ProtocolError.invalidField(name: "peerData.\(field)", reason: reason)
        }
        guard (0..<PeerHello.maxGroupSize).contains(origin) else {
            throw invalid("origin", "rank \(origin) is outside 0..<\(PeerHello.maxGroupSize)")
        }
        guard shape.count <= WireTensor.maxRank else {
            throw invalid("shape", "rank \(shape.count) exceeds \(WireTensor.maxRank)")
        }
        guard let count = WireTensor.elementCount(of: shape), !count.multipliedReportingOverflow(by: 8).overflow else {
            throw invalid("shape", "a dimension is out of range or the element count overflows")
        }
        guard axis >= 0, axis < max(shape.count, 1) else {
            throw invalid("axis", "axis \(axis) of a rank-\(shape.count) shape")
        }
        guard chunks >= 1, chunks <= max(count, 1), chunks <= Int(UInt32.max) else {
            throw invalid("chunks", "\(chunks) chunks for \(count) elements")
        }
        guard chunk >= 0, chunk < chunks else { throw invalid("chunk", "index \(chunk) of \(chunks) chunks") }
        let bytes = data.readableBytes
        guard bytes <= Self.maxChunkBytes else {
            throw invalid("data", "\(bytes) bytes exceed the chunk maximum of \(Self.maxChunkBytes)")
        }
        guard bytes % op.elementSize == 0 else {
            throw invalid("data", "\(bytes) bytes are not whole \(op.elementSize)-byte elements")
        }
        let n = bytes / op.elementSize
        guard elementOffset >= 0, elementOffset <= count, n <= count - elementOffset else {
            throw invalid("elementOffset", "elements \(elementOffset)..<\(elementOffset &+ n) of \(count)")
        }
        if chunk == 0, elementOffset != 0 {
            throw invalid("elementOffset", "the first chunk starts at \(elementOffset)")
        }
        if chunk == chunks - 1, elementOffset + n != count {
            throw invalid("data", "the last chunk ends at element \(elementOffset + n) of \(count)")
        }
        if chunk < chunks - 1, n == 0 { throw invalid("data", "chunk \(chunk) of \(chunks) is empty") }
    }

    /// `validate()`'s error, or nil when the values are valid.
    public var validationError: ProtocolError? {
        do { try validate() } catch { return error as? ProtocolError }
        return nil
    }

    func write(into b: inout ByteBuffer) {
        b.writeWireInteger(groupID)
        b.writeWireInteger(sequence)
        b.writeWireInteger(op.rawValue)
        b.writeWireInteger(kind.rawValue)
        b.writeWireInteger(UInt32(truncatingIfNeeded: origin))
        b.writeWireInteger(UInt8(truncatingIfNeeded: axis))
        b.writeWireInteger(UInt32(truncatingIfNeeded: chunk))
        b.writeWireInteger(UInt32(truncatingIfNeeded: chunks))
        b.writeWireInteger(UInt8(truncatingIfNeeded: shape.count))
        for d in shape { b.writeWireInteger(UInt32(truncatingIfNeeded: d)) }
        b.writeWireInteger(UInt64(truncatingIfNeeded: elementOffset))
        b.writeWireInteger(UInt32(truncatingIfNeeded: data.readableBytes))
        var chunkBytes = data
        b.writeBuffer(&chunkBytes)
    }

    static func read(from b: inout ByteBuffer) throws -> PeerData {
        let groupID: UInt64 = try b.readWireInteger("peerData.groupID")
        let sequence: UInt32 = try b.readWireInteger("peerData.sequence")
        let opByte: UInt8 = try b.readWireInteger("peerData.op")
        guard let op = PeerOp(rawValue: opByte) else {
            throw ProtocolError.invalidField(name: "peerData.op", reason: "unknown op \(opByte)")
        }
        let kindByte: UInt8 = try b.readWireInteger("peerData.kind")
        guard let kind = CollectiveKind(rawValue: kindByte) else {
            throw ProtocolError.invalidField(name: "peerData.kind", reason: "unknown collective kind \(kindByte)")
        }
        let origin = Int(try b.readWireInteger("peerData.origin", as: UInt32.self))
        let axis = Int(try b.readWireInteger("peerData.axis", as: UInt8.self))
        let chunk = Int(try b.readWireInteger("peerData.chunk", as: UInt32.self))
        let chunks = Int(try b.readWireInteger("peerData.chunks", as: UInt32.self))
        let rank = Int(try b.readWireInteger("peerData.shape", as: UInt8.self))
        guard rank <= WireTensor.maxRank else {
            throw ProtocolError.invalidField(name: "peerData.shape",
                                             reason: "rank \(rank) exceeds \(WireTensor.maxRank)")
        }
        var shape: [Int] = []
        for _ in 0..<rank { shape.append(Int(try b.readWireInteger("peerData.shape", as: UInt32.self))) }
        let offset = try b.readWireInteger("peerData.elementOffset", as: UInt64.self)
        let length = Int(try b.readWireInteger("peerData.data", as: UInt32.self))
        guard length <= b.readableBytes else { throw ProtocolError.truncated(field: "peerData.data") }
        let data = b.readSlice(length: length)!  // cannot fail: length <= readableBytes
        guard let elementOffset = Int(exactly: offset) else {
            throw ProtocolError.invalidField(name: "peerData.elementOffset", reason: "\(offset) is out of range")
        }
        let message = PeerData(groupID: groupID, sequence: sequence, op: op, kind: kind, origin: origin, axis: axis,
                               chunk: chunk, chunks: chunks, shape: shape, elementOffset: elementOffset, data: data)
        try message.validate()
        return message
    }
}
