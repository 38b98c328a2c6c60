import Foundation
import HiDiffTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A TCP forwarder from 127.0.0.1:port to 127.0.0.1:targetPort that can "take the server away":
/// `pause()` drops every forwarded connection and stops listening (clients get connection refused),
/// `resume()` listens on the same port again. Thread per direction; for tests only.
final class TCPProxy: @unchecked Sendable {
    let targetPort: Int
    private(set) var port: Int = 0
    private let lock = NSLock()
    private var listener: Int32 = -1
    private var pairs: [Pair] = []

    private final class Pair: @unchecked Sendable {
        let client: Int32
        let server: Int32
        private let lock = NSLock()
        private var open = 2
        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }
        func cut() {
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(server, Int32(SHUT_RDWR))
        }
        /// Called by each pump when it ends; the second closes both sockets.
        func pumpEnded() {
            lock.lock()
            open -= 1
            let last = open == 0
            lock.unlock()
            cut()
            if last {
                close(client)
                close(server)
            }
        }
    }

    init(targetPort: Int) throws {
        self.targetPort = targetPort
        try listen(on: 0)
    }

    /// Drops all forwarded connections and stops accepting.
    func pause() {
        lock.lock()
        let fd = listener
        listener = -1
        let current = pairs
        pairs = []
        lock.unlock()
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
        current.forEach { $0.cut() }
    }

    /// Accepts again on the same port.
    func resume() throws {
        try listen(on: port)
    }

    private func listen(on requested: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = LoopbackPort.address(requested)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            close(fd)
            throw NSError(domain: "TCPProxy", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "bind/listen failed"])
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        lock.lock()
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
        lock.unlock()
        Thread.detachNewThread { [self] in acceptLoop(fd) }
    }

    private func acceptLoop(_ fd: Int32) {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { return }   // shut down by pause()
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = LoopbackPort.address(targetPort)
            let connected = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                close(client)
                close(server)
                continue
            }
            let pair = Pair(client: client, server: server)
            lock.lock()
            let stillListening = listener == fd
            if stillListening { pairs.append(pair) }
            lock.unlock()
            guard stillListening else {
                pair.cut()
                close(client)
                close(server)
                return
            }
            Thread.detachNewThread { Self.pump(from: client, to: server, pair: pair) }
            Thread.detachNewThread { Self.pump(from: server, to: client, pair: pair) }
        }
    }

    private static func pump(from source: Int32, to destination: Int32, pair: Pair) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        loop: while true {
            let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            var sent = 0
            while sent < count {
                let n = buffer.withUnsafeBytes { send(destination, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break loop }
                sent += n
            }
        }
        pair.pumpEnded()
    }
}
