import NIOCore

/// A TCP connection carrying the cluster's frames, as both ends set it up.
///
/// Until the peer has proven it holds the token, frames are capped at `FrameDecoder.handshakeLimit`, so an
/// unauthenticated peer cannot make this side buffer a large payload; `authenticated()` lifts the cap to
/// each message type's own maximum.
public struct LinkChannel: Sendable {
    public let channel: NIOAsyncChannel<Message, Message>
    private let decoder: NIOLoopBound<FrameDecoder>

    /// Installs the frame codec on a new channel (call from a bootstrap's channel initializer).
    public static func wrap(_ channel: Channel) -> EventLoopFuture<LinkChannel> {
        channel.eventLoop.makeCompletedFuture {
            let decoder = FrameDecoder(payloadLimit: FrameDecoder.handshakeLimit)
            try channel.pipeline.syncOperations.addHandlers(
                ByteToMessageHandler(decoder), MessageToByteHandler(FrameEncoder()))
            return LinkChannel(channel: try NIOAsyncChannel(wrappingChannelSynchronously: channel),
                               decoder: NIOLoopBound(decoder, eventLoop: channel.eventLoop))
        }
    }

    /// The peer proved the token: accept payloads up to each message type's maximum.
    public func authenticated() {
        let decoder = self.decoder
        decoder.eventLoop.execute { decoder.value.payloadLimit = nil }
    }

    /// The peer's address, for logs.
    public var peer: String { channel.channel.remoteAddress.map { "\($0)" } ?? "?" }
}
