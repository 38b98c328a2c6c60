import HiDiffTLS
/// How the HTTP API runs: where it listens, its token, the default model and its limits.
public struct HTTPConfiguration: Sendable {
    public var host: String
    /// 0: any free port (`HTTPServer.port` tells which).
    public var port: Int
    /// Required by submit, cancel, retry, interrupt and POST options.
    public var token: APIToken
    /// The model a request without one uses (`override_settings.sd_model_checkpoint`, `model`).
    public var defaultModel: String = "shapes"
    /// The largest request body in bytes (413 above it).
    public var maxBodyBytes: Int = 64 << 20
    /// The most images one AUTOMATIC1111 call may ask for (batch_size x n_iter).
    public var maxImagesPerCall: Int = 100
    /// Seconds between polls of the jobs a synchronous call waits for.
    public var pollSeconds: Double = 0.2
    /// Seconds a synchronous call waits for its jobs before it answers 504 (the jobs stay queued).
    public var maxWaitSeconds: Double = 6 * 3600
    /// HTTPS with the cluster's certificate (`--tls-cert`, `--tls-key`); nil: plain HTTP, with a warning at
    /// start. No client certificate is asked for: HTTP clients authenticate with the API token.
    public var tls: LinkTLS?

    public init(host: String, port: Int, token: APIToken) {
        self.host = host
        self.port = port
        self.token = token
    }

    /// Parses `HOST:PORT` (IPv6 hosts in brackets).
    public static func parseAddress(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw HTTPConfigurationError.badAddress(text)
        }
        return (String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }
}

import Foundation
