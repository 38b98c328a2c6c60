import NIOCore

/// Bytes -> `Message` for a NIO pipeline: `ByteToMessageHandler(FrameDecoder())`.
///
/// Any `ProtocolError` is thrown into the pipeline (`errorCaught`), where the connection's handler logs it and
/// closes that one channel. Bytes of an incomplete frame left at EOF raise `ProtocolError.truncated(field: "frame")`.
public final class FrameDecoder: ByteToMessageDecoder {
    /// Decoded messages.
    public typealias InboundOut = Message

    /// An extra cap on every type's payload maximum (see `FrameCodec.decode(from:payloadLimit:)`). Keep it low
    /// (e.g. `FrameDecoder.handshakeLimit`) until the peer is authenticated, then set it to nil. Only touch it on the
    /// channel's event loop.
    public var payloadLimit: Int?

    /// The largest handshake payload: a sensible `payloadLimit` before authentication.
    public static let handshakeLimit = 64 * 1024

    /// - Parameter payloadLimit: see `payloadLimit`.
    public init(payloadLimit: Int? = nil) {
        self.payloadLimit = payloadLimit
    }

    /// Emits every complete frame in `buffer`; throws the first `ProtocolError`.
    public func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try FrameCodec.decode(from: &buffer, payloadLimit: payloadLimit) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    /// At EOF: emits what is complete, then throws `truncated(field: "frame")` for a partial frame.
    public func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer,
                           seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            // Report a half frame as ours rather than NIO's generic leftover-data error.
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            throw ProtocolError.truncated(field: "frame")
        }
        return .needMoreData
    }
}
