/// What `--tls-cert`, `--tls-key` and `--tls-ca` name, before anything is read: which links use TLS and which
/// files each side needs. A value type, so the flag rules are tested without files or sockets.
///
/// - TLS is on when any of the three is given; plain TCP otherwise (with a warning at start).
/// - The certificate and its key come together.
/// - A side that accepts connections (the coordinator, a worker with `--peer-listen`, the HTTP API) needs
///   a certificate and key.
/// - With a CA, servers require a client certificate signed by it (mutual TLS) and clients verify the server
///   against it; without one, clients verify against the system's trust store and servers ask for no
///   client certificate.
public struct TLSFiles: Sendable, Equatable {
    /// PEM certificate chain (leaf first) this process presents.
    public var certificate: String?
    /// PEM private key of `certificate`.
    public var key: String?
    /// PEM certificate(s) of the CA that signs every certificate of the cluster.
    public var ca: String?

    /// The paths as given on the command line (nil: flag not given).
    public init(certificate: String? = nil, key: String? = nil, ca: String? = nil) {
        self.certificate = certificate
        self.key = key
        self.ca = ca
    }

    /// Any of the flags was given.
    public var isEnabled: Bool { certificate != nil || key != nil || ca != nil }

    /// Servers require client certificates signed by the CA.
    public var isMutual: Bool { ca != nil }

    /// Checks that the flags given fit a process that `serves` connections (or only dials out); nil
    /// certificate and key are fine for a worker that only dials.
    public func check(serves: Bool, role: String) throws(TLSConfigurationError) {
        guard isEnabled else { return }
        switch (certificate, key) {
        case let (cert?, nil): throw .missingKey(certificate: cert)
        case let (nil, key?): throw .missingCertificate(key: key)
        case (nil, nil) where serves: throw .serverNeedsIdentity(role: role)
        default: break
        }
    }
}
