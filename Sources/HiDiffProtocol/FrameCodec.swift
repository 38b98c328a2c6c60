import NIOCore

/// The versioned binary frame around every message.
///
/// Header, 12 bytes: "HDF" (0-2), protocol version (3), message type (4), flags (5, zero), reserved (6-7, zero),
/// payload length as u32 little-endian (8-11). Then the payload (see `Message` cases; all fields little-endian).
///
/// The decoder is incremental and strict: header bytes are checked as soon as they arrive, the payload length is
/// checked against the type's maximum from the header alone (before any payload is buffered), and the payload
/// must decode exactly. A valid frame's decoded message re-encodes to the very same bytes.
public enum FrameCodec {
    /// Header bytes 0-2.
    public static let magic: [UInt8] = Array("HDF".utf8)
    /// Header byte 3, and the `version` a worker puts in its hello.
    public static let protocolVersion: UInt8 = 2
    /// Bytes before the payload.
    public static let headerSize = 12

    private static let kib = 1024
    private static let mib = 1024 * 1024

    /// The largest payload a frame of type `t` may announce.
    public static func maxPayload(for t: MessageType) -> Int {
        switch t {
        case .hello, .challenge, .proof, .welcome, .heartbeat, .cancel, .drain, .goodbye, .accepted, .progress,
             .peerHello, .peerChallenge, .peerProof, .peerWelcome:
            return 64 * kib
        case .peerData:
            return PeerData.maxChunkBytes + PeerData.maxFieldBytes
        case .register, .failed, .memberDone:
            return 1 * mib
        case .preview:
            return Message.maxPreviewBytes + 64
        case .assign:
            return 256 * mib
        case .checkpoint, .result:
            return 1024 * mib
        }
    }

    /// Appends `m` as one frame (header + payload). Does not validate: a message the peer would refuse (a nonce
    /// that is not 32 bytes, a tensor whose shape does not match its data, an oversized payload) is written as
    /// given. Use `encodeChecked` (as `FrameEncoder` does) to refuse such messages before they reach the wire.
    public static func encode(_ m: Message, into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeBytes(magic)
        buffer.writeInteger(protocolVersion)
        buffer.writeInteger(m.type.rawValue)
        buffer.writeInteger(0 as UInt8)   // flags
        buffer.writeInteger(0 as UInt16)  // reserved
        buffer.writeInteger(0 as UInt32)  // length, patched below once the payload is written
        let payloadStart = buffer.writerIndex
        m.writePayload(into: &buffer)
        let length = UInt32(truncatingIfNeeded: buffer.writerIndex - payloadStart)
        buffer.setInteger(length, at: start + 8, endianness: .little)
    }

    /// Like `encode`, but throws the `ProtocolError` the peer's decoder would raise (invalid field, payload over
    /// the type's maximum) instead of writing a frame the peer would refuse. On throw `buffer` is unchanged.
    public static func encodeChecked(_ m: Message, into buffer: inout ByteBuffer) throws {
        try m.validate()
        let start = buffer.writerIndex
        encode(m, into: &buffer)
        let length = buffer.writerIndex - start - headerSize
        let max = maxPayload(for: m.type)
        guard length <= max else {
            buffer.moveWriterIndex(to: start)
            throw ProtocolError.frameTooLarge(type: m.type, length: length, max: max)
        }
    }

    /// One frame as a fresh buffer (convenience for tests and tools).
    public static func frame(_ m: Message, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: headerSize + 64)
        encode(m, into: &buffer)
        return buffer
    }

    /// Incremental: returns nil when more bytes are needed; throws ProtocolError on any violation (after checking
    /// the header alone when the length is too big).
    ///
    /// On success exactly one frame is consumed; on nil nothing is consumed; after a throw the connection must be
    /// closed (the buffer position is unspecified).
    public static func decode(from buffer: inout ByteBuffer) throws -> Message? {
        try decode(from: &buffer, payloadLimit: nil)
    }

    /// `decode(from:)` with an extra cap on every type's maximum, e.g. 64 KiB until a peer has authenticated so an
    /// unauthenticated peer cannot make us buffer a 1 GiB payload.
    public static func decode(from buffer: inout ByteBuffer, payloadLimit: Int?) throws -> Message? {
        guard let (type, length) = try peekHeader(buffer, payloadLimit: payloadLimit) else { return nil }
        guard buffer.readableBytes - headerSize >= length else { return nil }
        var payload = buffer.getSlice(at: buffer.readerIndex + headerSize, length: length)!
        let message = try Message.readPayload(type: type, from: &payload)
        buffer.moveReaderIndex(forwardBy: headerSize + length)
        return message
    }

    /// Checks the header bytes present so far, in wire order, so that a stream fed byte by byte fails with the
    /// same error, at the first bad byte, as the whole stream at once. Returns the type and length once all 12
    /// header bytes are present.
    private static func peekHeader(_ buffer: ByteBuffer, payloadLimit: Int?) throws -> (MessageType, Int)? {
        let available = min(buffer.readableBytes, headerSize)
        let base = buffer.readerIndex
        func byte(_ i: Int) -> UInt8 { buffer.getInteger(at: base + i, as: UInt8.self)! }

        for i in 0..<min(available, magic.count) where byte(i) != magic[i] { throw ProtocolError.badMagic }
        if available > 3, byte(3) != protocolVersion { throw ProtocolError.unsupportedVersion(byte(3)) }
        var type: MessageType?
        if available > 4 {
            type = MessageType(rawValue: byte(4))
            if type == nil { throw ProtocolError.unknownType(byte(4)) }
        }
        for i in 5..<max(5, min(available, 8)) where byte(i) != 0 { throw ProtocolError.reservedBits }
        guard available == headerSize, let type else { return nil }

        let length = Int(buffer.getInteger(at: base + 8, endianness: .little, as: UInt32.self)!)
        var limit = maxPayload(for: type)
        if let payloadLimit { limit = min(limit, payloadLimit) }
        guard length <= limit else { throw ProtocolError.frameTooLarge(type: type, length: length, max: limit) }
        return (type, length)
    }
}
