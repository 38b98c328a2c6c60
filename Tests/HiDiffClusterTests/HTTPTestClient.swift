import Foundation
import HiDiffTestSupport

/// A plain HTTP/1.1 client over a blocking loopback socket, for tests that must send exactly what they mean
/// (malformed bodies, lying Content-Length, no auth) and read the status, headers and body.
struct HTTPTestClient {
    let port: Int

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> Any { try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) }
        func object() throws -> [String: Any] {
            guard let o = try json() as? [String: Any] else { throw TestHTTPError(message: "not an object: \(text.prefix(300))") }
            return o
        }
    }

    struct TestHTTPError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    func get(_ path: String, headers: [String: String] = [:]) throws -> Reply {
        try send("GET", path, headers: headers, body: nil)
    }

    func post(_ path: String, json: Any, token: String? = nil) throws -> Reply {
        let body = try JSONSerialization.data(withJSONObject: json)
        return try post(path, body: body, token: token)
    }

    func post(_ path: String, body: Data, token: String? = nil, headers: [String: String] = [:]) throws -> Reply {
        var all = headers
        all["Content-Type"] = "application/json"
        if let token { all["Authorization"] = "Bearer \(token)" }
        return try send("POST", path, headers: all, body: body)
    }

    func send(_ method: String, _ path: String, headers: [String: String], body: Data?, timeout: Int = 300) throws -> Reply {
        guard let fd = LoopbackPort.connect(port) else {
            throw TestHTTPError(message: "cannot connect to 127.0.0.1:\(port)")
        }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        // Keep-alive, so the server reads (drains) a body it refused before answering; the reply is read by
        // its Content-Length and the socket closed here.
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        var fields = headers
        if let body, fields["Content-Length"] == nil, fields["Transfer-Encoding"] == nil { fields["Content-Length"] = "\(body.count)" }
        for (k, v) in fields { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        var request = Data(head.utf8)
        if let body { request.append(body) }
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { Foundation.send(fd, $0.baseAddress! + sent, request.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }   // the server may refuse (413) before reading all of a large body
            sent += n
        }
        var response = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !Self.complete(response) {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            response.append(contentsOf: chunk[0..<n])
        }
        guard let split = response.range(of: Data("\r\n\r\n".utf8)) else {
            throw TestHTTPError(message: "no HTTP response head (\(response.count) bytes)")
        }
        let lines = String(decoding: response[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = lines.first, statusLine.split(separator: " ").count >= 2,
              let status = Int(statusLine.split(separator: " ")[1]) else {
            throw TestHTTPError(message: "bad status line: \(lines.first ?? "")")
        }
        var headerMap: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headerMap[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var payload = Data(response[split.upperBound...])
        if headerMap["transfer-encoding"]?.lowercased() == "chunked" { payload = Self.dechunk(payload) }
        return Reply(status: status, headers: headerMap, body: payload)
    }

    /// Whether `data` holds a whole response: its head and Content-Length bytes, or a chunked body's end.
    static func complete(_ data: Data) -> Bool {
        guard let split = data.range(of: Data("\r\n\r\n".utf8)) else { return false }
        let head = String(decoding: data[..<split.lowerBound], as: UTF8.self).lowercased()
        let bodyCount = data.count - split.upperBound
        for line in head.components(separatedBy: "\r\n") where line.hasPrefix("content-length:") {
            return bodyCount >= Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        if head.contains("transfer-encoding: chunked") { return data.suffix(5) == Data("0\r\n\r\n".utf8) }
        return false
    }

    static func dechunk(_ data: Data) -> Data {
        var out = Data(), rest = data[...]
        while let lineEnd = rest.range(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText, radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            out.append(rest[start..<(start + size)])
            rest = rest[(start + size + 2)...]
        }
        return out
    }
}
