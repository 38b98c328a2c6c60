import NIOCore

/// What drives one end of a link's state machine: frames from the peer, the clock, the application.
///
/// Each link runs one loop that consumes these in order, so its state machine never sees two inputs at once.
public enum LinkInput: Sendable {
    case inbound(Message)
    /// The peer's stream ended (closed, reset, or a protocol error while decoding).
    case ended(String)
    case tick
    /// The application sends a message (only once the link is established).
    case send(Message)
    /// The application closes the link with a goodbye.
    case close(String)

    /// Feeds every decoded message into `sink`, then why the stream ended.
    public static func pump(_ inbound: NIOAsyncChannelInboundStream<Message>,
                            into sink: AsyncStream<LinkInput>.Continuation) async {
        do {
            for try await message in inbound { sink.yield(.inbound(message)) }
            sink.yield(.ended("the peer closed the connection"))
        } catch {
            sink.yield(.ended("\(error)"))
        }
    }

    /// A tick every `interval` until cancelled.
    public static func ticks(into sink: AsyncStream<LinkInput>.Continuation,
                             every interval: Duration = .milliseconds(500)) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            sink.yield(.tick)
        }
    }
}
