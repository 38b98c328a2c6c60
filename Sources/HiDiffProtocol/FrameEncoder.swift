import NIOCore

/// `Message` -> bytes for a NIO pipeline: `MessageToByteHandler(FrameEncoder())`.
///
/// Uses `FrameCodec.encodeChecked`, so a message the peer would refuse (bad nonce size, tensor shape/data mismatch,
/// payload over the type's maximum) fails the write with a `ProtocolError` instead of going out.
public final class FrameEncoder: MessageToByteEncoder {
    /// Messages to encode.
    public typealias OutboundIn = Message

    /// A stateless encoder.
    public init() {}

    /// Writes `data` as one frame, or throws without writing.
    public func encode(data: Message, out: inout ByteBuffer) throws {
        try FrameCodec.encodeChecked(data, into: &out)
    }
}
