/// Why TLS cannot start as configured: each names the flag, the file and what to do.
public enum TLSConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingKey(certificate: String)
    case missingCertificate(key: String)
    case serverNeedsIdentity(role: String)
    /// The file cannot be read (missing, a folder, no permission).
    case unreadable(flag: String, path: String, reason: String)
    /// The file holds no PEM certificate (`--tls-cert`, `--tls-ca`) or private key (`--tls-key`).
    case notPEM(flag: String, path: String, expected: String, reason: String)
    case keyMismatch(certificate: String, key: String)
    case expired(path: String, notAfter: String)
    /// SwiftNIO SSL refused the configuration for another reason.
    case unusable(reason: String)

    public var description: String {
        switch self {
        case let .missingKey(cert):
            "--tls-cert \(cert) needs --tls-key (the PEM private key that certificate was made for)"
        case let .missingCertificate(key):
            "--tls-key \(key) needs --tls-cert (the PEM certificate of that key)"
        case let .serverNeedsIdentity(role):
            "\(role) accepts TLS connections, so it needs --tls-cert and --tls-key (a PEM certificate signed by the cluster's CA and its key)"
        case let .unreadable(flag, path, reason):
            "cannot read \(flag) \(path): \(reason); check the path and that this user may read it"
        case let .notPEM(flag, path, expected, reason):
            "\(flag) \(path) holds no usable PEM \(expected) (\(reason)); give a PEM file (-----BEGIN \(expected.uppercased())-----)"
        case let .keyMismatch(cert, key):
            "--tls-key \(key) is not the private key of --tls-cert \(cert); give the key that certificate was made for"
        case let .expired(path, notAfter):
            "--tls-cert \(path) expired on \(notAfter); issue a new certificate"
        case let .unusable(reason):
            "the TLS configuration is unusable: \(reason)"
        }
    }
}
