import Foundation
import HiDiffTestSupport
import HiDiffTLS
import NIOCore
import NIOPosix
import XCTest

/// Real handshakes on loopback with `LinkTLS`'s server and client handlers: what each side verifies.
final class LinkTLSHandshakeTests: XCTestCase {
    var certs: TestCertificates!
    var other: TestCertificates!

    override func setUpWithError() throws {
        certs = try TestCertificates(names: ["server", "client"])
        other = try TestCertificates(names: ["intruder"])
    }

    override func tearDown() {
        certs?.remove()
        other?.remove()
    }

    func tls(_ set: TestCertificates, _ name: String?, ca: String?, serves: Bool = false) throws -> LinkTLS {
        try XCTUnwrap(try LinkTLS.load(TLSFiles(certificate: name.map(set.certificate), key: name.map(set.key), ca: ca),
                                       serves: serves, role: "test"))
    }

    /// An echo server behind `server`; returns its port.
    func echoServer(_ server: LinkTLS) throws -> any Channel {
        try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try server.addServerHandler(to: channel)
                    try channel.pipeline.syncOperations.addHandler(Echo())
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    /// Sends "ping" through `client` (nil: plaintext) and returns what came back, or the error.
    func exchange(_ client: LinkTLS?, port: Int, host: String = "127.0.0.1") -> Result<String, any Error> {
        let reply = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: String.self)
        let result = Result {
            let channel = try ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let client { try client.addClientHandler(to: channel, host: host) }
                        try channel.pipeline.syncOperations.addHandler(Collect(reply: reply))
                    }
                }
                .connect(host: "127.0.0.1", port: port).wait()
            channel.writeAndFlush(ByteBuffer(string: "ping"), promise: nil)
            channel.eventLoop.scheduleTask(in: .seconds(5)) { reply.fail(ChannelError.ioOnClosedChannel) }
            defer { channel.close(promise: nil) }
            return try reply.futureResult.wait()
        }
        return result
    }

    func testMutualTLSWithTheClusterCA() throws {
        let server = try echoServer(try tls(certs, "server", ca: certs.ca, serves: true))
        defer { server.close(promise: nil) }
        let port = try XCTUnwrap(server.localAddress?.port)
        XCTAssertEqual(try exchange(try tls(certs, "client", ca: certs.ca), port: port).get(), "ping")
        XCTAssertEqual(try exchange(try tls(certs, "client", ca: certs.ca), port: port, host: "localhost").get(), "ping")
    }

    func testTheServerMustBeNamedByItsCertificate() throws {
        // Signed by the cluster's CA, but for gpu-1.example only (no 127.0.0.1, no localhost).
        try certs.add(["gpu-1"], san: ["DNS:gpu-1.example"], onlySAN: true)
        let server = try echoServer(try tls(certs, "gpu-1", ca: certs.ca, serves: true))
        defer { server.close(promise: nil) }
        let port = try XCTUnwrap(server.localAddress?.port)
        let client = try tls(certs, "client", ca: certs.ca)
        XCTAssertEqual(try exchange(client, port: port, host: "gpu-1.example").get(), "ping")
        XCTAssertThrowsError(try exchange(client, port: port, host: "127.0.0.1").get(), "an address not in its SANs")
        XCTAssertThrowsError(try exchange(client, port: port, host: "gpu-2.example").get(), "another name")
    }

    func testAClientCertificateFromAnotherCAIsRefused() throws {
        let server = try echoServer(try tls(certs, "server", ca: certs.ca, serves: true))
        defer { server.close(promise: nil) }
        let port = try XCTUnwrap(server.localAddress?.port)
        // It trusts the right CA but presents a certificate the server's CA did not sign.
        let result = exchange(try tls(other, "intruder", ca: certs.ca), port: port)
        XCTAssertThrowsError(try result.get())
        if case let .failure(error) = result { XCTAssertTrue(LinkTLS.isTLSFailure(error), "\(error)") }
        // No certificate at all, when the server requires one.
        XCTAssertThrowsError(try exchange(try tls(certs, nil, ca: certs.ca), port: port).get())
    }

    func testAServerFromAnotherCAIsRefusedByTheClient() throws {
        let server = try echoServer(try tls(other, "intruder", ca: nil, serves: true))
        defer { server.close(promise: nil) }
        let port = try XCTUnwrap(server.localAddress?.port)
        let result = exchange(try tls(certs, "client", ca: certs.ca), port: port)
        XCTAssertThrowsError(try result.get())
        if case let .failure(error) = result { XCTAssertTrue(LinkTLS.isTLSFailure(error), "\(error)") }
    }

    func testPlaintextOnATLSPortGetsNothingBack() throws {
        let server = try echoServer(try tls(certs, "server", ca: certs.ca, serves: true))
        defer { server.close(promise: nil) }
        let port = try XCTUnwrap(server.localAddress?.port)
        XCTAssertThrowsError(try exchange(nil, port: port).get())
        // The server keeps serving.
        XCTAssertEqual(try exchange(try tls(certs, "client", ca: certs.ca), port: port).get(), "ping")
    }
}

private final class Echo: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

private final class Collect: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let reply: EventLoopPromise<String>
    var text = ""
    init(reply: EventLoopPromise<String>) { self.reply = reply }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        text += buffer.readString(length: buffer.readableBytes) ?? ""
        if text == "ping" { reply.succeed(text) }
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        reply.fail(error)
        context.close(promise: nil)
    }
    func channelInactive(context: ChannelHandlerContext) {
        reply.fail(ChannelError.eof)
    }
}
