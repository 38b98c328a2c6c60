/// Why the HTTP API cannot start as configured.
public enum HTTPConfigurationError: Error, CustomStringConvertible, Sendable {
    case tokenTooShort(length: Int, minimum: Int)
    case missingToken
    case badAddress(String)

    public var description: String {
        switch self {
        case .tokenTooShort(let length, let minimum):
            "the API token is \(length) bytes; it must be at least \(minimum) (e.g. head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n')"
        case .missingToken:
            "--http needs an API token for submit and admin actions: pass --api-token-file FILE or set HIDIFF_API_TOKEN (not the cluster token)"
        case .badAddress(let text):
            "--http must be HOST:PORT with a port from 0 to 65535 (got \(text))"
        }
    }
}
