import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A one-request HTTPS/1.1 client that trusts only the given CA (SwiftNIO SSL with its own default
/// verification: chain and host name), for the TLS tests of the HTTP API.
struct HTTPSTestClient {
    let port: Int
    let caFile: String
    var host = "localhost"

    struct Reply {
        var status: Int
        var body: String
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// GET `path`; the reply, or the error (a failed handshake among them).
    func get(_ path: String, timeout: Int64 = 30) throws -> Reply {
        try send("GET", path, timeout: timeout)
    }

    /// One request; a body is sent as JSON.
    func send(_ method: String, _ path: String, headers: [String: String] = [:], json: String? = nil,
              timeout: Int64 = 300) throws -> Reply {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(caFile)
        let context = try NIOSSLContext(configuration: configuration)
        let group = MultiThreadedEventLoopGroup.singleton
        let done = group.next().makePromise(of: String.self)
        let host = self.host
        let channel = try ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: host))
                    try channel.pipeline.syncOperations.addHandler(ReadAll(done: done))
                }
            }
            .connect(host: "127.0.0.1", port: port).wait()
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if let json { request += "Content-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n" }
        request += "\r\n" + (json ?? "")
        channel.writeAndFlush(ByteBuffer(string: request), promise: nil)
        channel.eventLoop.scheduleTask(in: .seconds(timeout)) { done.fail(Failure(description: "no reply in \(timeout) s")) }
        defer { channel.close(promise: nil) }
        let text = try done.futureResult.wait()
        guard let head = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else {
            throw Failure(description: "no HTTP response: \(text.prefix(200))")
        }
        return Reply(status: status, body: String(text[head.upperBound...]))
    }
}

/// Collects the response until the server closes (Connection: close).
private final class ReadAll: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let done: EventLoopPromise<String>
    var text = ""
    init(done: EventLoopPromise<String>) { self.done = done }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        text += buffer.readString(length: buffer.readableBytes) ?? ""
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.succeed(text)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A server that closes without close_notify after a full response is still a response.
        if let ssl = error as? NIOSSLError, case .uncleanShutdown = ssl, !text.isEmpty { return }
        done.fail(error)
        context.close(promise: nil)
    }
}
