import Foundation
import NIOCore
import NIOSSL

/// TLS for every link of the cluster, loaded once from `TLSFiles` and shared by the worker-to-coordinator
/// link, the group (peer) links and the HTTP API: the server and client contexts are built here and the
/// links only add a handler to their pipelines.
///
/// Clients verify the server's certificate chain against the CA (`--tls-ca`; the system's trust store
/// without one) and its name against the host they dialed (an IP address against the certificate's IP
/// SANs). With a CA, servers require a client certificate that chains to it (mutual TLS). TLS 1.2 is the
/// least accepted.
public struct LinkTLS: Sendable {
    /// The files this was loaded from.
    public let files: TLSFiles
    private let serverContext: NIOSSLContext?
    private let clientContext: NIOSSLContext
    /// The HTTP API's server configuration: this certificate, no client certificate asked for (HTTP
    /// clients such as AUTOMATIC1111 tools authenticate with the API token instead). Nil without a
    /// certificate.
    public let httpServerConfiguration: TLSConfiguration?

    /// Reads and checks the files; nil when no TLS flag was given. `serves`: this process accepts
    /// connections (`role` names it in errors, e.g. "the coordinator").
    public static func load(_ files: TLSFiles, serves: Bool, role: String) throws(TLSConfigurationError) -> LinkTLS? {
        guard files.isEnabled else { return nil }
        try files.check(serves: serves, role: role)
        return try LinkTLS(files: files)
    }

    private init(files: TLSFiles) throws(TLSConfigurationError) {
        self.files = files
        let chain = try files.certificate.map { path throws(TLSConfigurationError) in
            try Self.certificates(flag: "--tls-cert", path: path)
        }
        let key = try files.key.map { path throws(TLSConfigurationError) in try Self.privateKey(path: path) }
        let roots = try files.ca.map { path throws(TLSConfigurationError) in
            try Self.certificates(flag: "--tls-ca", path: path)
        }
        if let path = files.certificate, let leaf = chain?.first,
           Double(leaf.notValidAfter) < Date().timeIntervalSince1970 {
            throw .expired(path: path, notAfter: "\(Date(timeIntervalSince1970: Double(leaf.notValidAfter)))")
        }
        let trust: NIOSSLTrustRoots = roots.map { .certificates($0) } ?? .default

        var client = TLSConfiguration.makeClientConfiguration()
        client.minimumTLSVersion = .tlsv12
        client.certificateVerification = .fullVerification
        client.trustRoots = trust
        if let chain, let key, let cert = files.certificate, let keyPath = files.key {
            let sources = chain.map { NIOSSLCertificateSource.certificate($0) }
            var server = roots == nil
                ? TLSConfiguration.makeServerConfiguration(certificateChain: sources, privateKey: .privateKey(key))
                : TLSConfiguration.makeServerConfigurationWithMTLS(certificateChain: sources, privateKey: .privateKey(key),
                                                                   trustRoots: trust)
            server.minimumTLSVersion = .tlsv12
            var http = TLSConfiguration.makeServerConfiguration(certificateChain: sources, privateKey: .privateKey(key))
            http.minimumTLSVersion = .tlsv12
            client.certificateChain = sources
            client.privateKey = .privateKey(key)
            // BoringSSL checks the key against the certificate when a context takes both.
            do { serverContext = try NIOSSLContext(configuration: server) } catch {
                throw .keyMismatch(certificate: cert, key: keyPath)
            }
            httpServerConfiguration = http
        } else {
            serverContext = nil
            httpServerConfiguration = nil
        }
        do { clientContext = try NIOSSLContext(configuration: client) } catch {
            throw .unusable(reason: "\(error)")
        }
    }

    /// Servers ask for (and require) client certificates signed by the CA.
    public var isMutual: Bool { files.isMutual }

    /// One line for the start-up log: what is presented and what is verified.
    public var summary: String {
        var parts = ["TLS on"]
        if let cert = files.certificate { parts.append("certificate \(cert)") }
        if let ca = files.ca {
            parts.append("peers verified against CA \(ca); client certificates required (mutual TLS)")
        } else {
            parts.append("servers verified against the system trust store; no client certificates asked for")
        }
        return parts.joined(separator: ", ")
    }

    /// The warning a process logs at start when it runs its links without TLS.
    public static func plaintextWarning(links: String) -> String {
        "TLS is off on \(links): plain TCP. The token handshake still authenticates, but anyone on the network can read the traffic (requests, images). Use only on a trusted network, or start with --tls-cert, --tls-key and --tls-ca"
    }

    // MARK: Pipelines

    /// Adds the server side of TLS as the first handler (call on the channel's event loop, in its initializer).
    public func addServerHandler(to channel: any Channel) throws {
        guard let serverContext else { throw TLSConfigurationError.serverNeedsIdentity(role: "this process") }
        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverContext))
    }

    /// Adds the client side of TLS, verifying the server against `host` (a name, or an IP address checked
    /// against the certificate's IP SANs), as the first handler (call on the channel's event loop).
    public func addClientHandler(to channel: any Channel, host: String) throws {
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        try channel.pipeline.syncOperations.addHandler(
            NIOSSLClientHandler(context: clientContext, serverHostname: isAddress ? nil : host))
    }

    /// Whether `error` is a TLS failure that trying again will not mend (a failed handshake, a certificate
    /// that does not verify, plaintext on a TLS port); a connection cut mid-handshake is not one.
    public static func isTLSFailure(_ error: any Error) -> Bool {
        if let error = error as? NIOSSLError {
            if case .uncleanShutdown = error { return false }
            return true
        }
        return error is BoringSSLError || error is NIOSSLExtraError
    }

    // MARK: Files

    private static func read(flag: String, path: String) throws(TLSConfigurationError) -> [UInt8] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw .unreadable(flag: flag, path: path, reason: "no such file")
        }
        guard !isFolder.boolValue else { throw .unreadable(flag: flag, path: path, reason: "it is a folder") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(flag: flag, path: path, reason: "permission denied or unreadable")
        }
        return Array(data)
    }

    private static func certificates(flag: String, path: String) throws(TLSConfigurationError) -> [NIOSSLCertificate] {
        let bytes = try read(flag: flag, path: path)
        let found: [NIOSSLCertificate]
        do { found = try NIOSSLCertificate.fromPEMBytes(bytes) } catch {
            throw .notPEM(flag: flag, path: path, expected: "certificate", reason: "\(error)")
        }
        guard !found.isEmpty else {
            throw .notPEM(flag: flag, path: path, expected: "certificate", reason: "no certificate in it")
        }
        return found
    }

    private static func privateKey(path: String) throws(TLSConfigurationError) -> NIOSSLPrivateKey {
        let bytes = try read(flag: "--tls-key", path: path)
        do { return try NIOSSLPrivateKey(bytes: bytes, format: .pem) } catch {
            throw .notPEM(flag: "--tls-key", path: path, expected: "private key", reason: "\(error)")
        }
    }
}
