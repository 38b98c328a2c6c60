import Foundation
import HiDiffTestSupport
import HiDiffProtocol
import NIOCore

/// A blocking TCP socket on 127.0.0.1 that speaks frames by hand: the rogue peers and hostile clients of the
/// tests (no NIO, so nothing of the implementation under test helps them).
final class RawSocket: @unchecked Sendable {
    private let fd: Int32
    private var inbound = ByteBuffer()

    private init(fd: Int32) { self.fd = fd }
    deinit { Foundation.close(fd) }

    static func connect(port: Int) throws -> RawSocket {
        guard let fd = LoopbackPort.connect(port) else {
            throw HarnessError("connect to port \(port) failed: errno \(errno)")
        }
        return RawSocket(fd: fd)
    }

    func send(_ message: Message) {
        var buffer = ByteBuffer()
        FrameCodec.encode(message, into: &buffer)
        send(bytes: Array(buffer.readableBytesView))
    }

    func send(bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }  // the peer closed: what it does about it is the test's question
            sent += n
        }
    }

    /// Waits up to `timeout` for readable bytes; false on timeout.
    private func readable(timeout: Double) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, Int32(timeout * 1000)) > 0
    }

    /// Reads some bytes; false at EOF or on an error.
    private func fill(timeout: Double) throws -> Bool {
        guard readable(timeout: timeout) else { throw HarnessError("nothing to read within \(timeout) s") }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        inbound.writeBytes(chunk[0..<n])
        return true
    }

    /// The next frame, nil at EOF; throws on a timeout or a malformed frame.
    func receive(timeout: Double = 5) throws -> Message? {
        while true {
            if let m = try FrameCodec.decode(from: &inbound) { return m }
            if try !fill(timeout: timeout) { return nil }
        }
    }

    /// Messages until EOF (true) or `timeout` (false).
    func drainUntilClosed(timeout: Double = 5) -> (closed: Bool, messages: [Message]) {
        var messages: [Message] = []
        let deadline = Date(timeIntervalSinceNow: timeout)
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return (false, messages) }
            do {
                guard let m = try receive(timeout: left) else { return (true, messages) }
                messages.append(m)
            } catch is ProtocolError {
                continue
            } catch {
                return (false, messages)
            }
        }
    }

    // MARK: handshakes by hand

    /// The dialer's handshake: hello, check the challenge's proof, send ours (made with `proofToken`), and return
    /// the acceptor's answer (`.peerWelcome` when the link is taken, else a goodbye, or nil at EOF).
    func dial(_ hello: PeerHello, token: [UInt8], proofToken: [UInt8]? = nil) throws -> Message? {
        send(.peerHello(hello))
        guard let answer = try receive() else { return nil }
        guard case .peerChallenge(let nonce, let proof) = answer else { return answer }
        guard proof == hello.proof(token: token, role: PeerHello.acceptorRole, acceptorNonce: nonce) else {
            throw HarnessError("the acceptor's proof does not verify")
        }
        send(.peerProof(proof: hello.proof(token: proofToken ?? token, role: PeerHello.dialerRole, acceptorNonce: nonce)))
        return try receive()
    }
}

/// A listening socket for a rogue member that accepts a real member's dial.
final class RawListener: @unchecked Sendable {
    private let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = LoopbackPort.address(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            throw HarnessError("cannot listen: errno \(errno)")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }

    /// Accepts one connection and runs the acceptor's handshake with `token`: returns the socket and the hello.
    func acceptPeer(token: [UInt8], timeout: Double = 5) throws -> (RawSocket, PeerHello) {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) > 0 else { throw HarnessError("no connection within \(timeout) s") }
        let socket = RawSocket(adopting: accept(fd, nil, nil))
        guard case .peerHello(let hello)? = try socket.receive() else { throw HarnessError("no peer hello") }
        let nonce = [UInt8](repeating: 0x5a, count: 32)
        socket.send(.peerChallenge(nonce: nonce, proof: hello.proof(token: token, role: PeerHello.acceptorRole,
                                                                    acceptorNonce: nonce)))
        guard case .peerProof(let proof)? = try socket.receive(),
              proof == hello.proof(token: token, role: PeerHello.dialerRole, acceptorNonce: nonce) else {
            throw HarnessError("no valid peer proof")
        }
        socket.send(.peerWelcome)
        return (socket, hello)
    }
}

extension RawSocket {
    convenience init(adopting fd: Int32) { self.init(fd: fd) }
}
