import Foundation
import HiDiffProtocol

/// The HTTP API's token (its own, not the cluster token), and the check of a request's `Authorization`
/// header against it: `Bearer TOKEN`, or HTTP basic auth with the token as the password (what
/// AUTOMATIC1111 clients send for `--api-auth`; the user name is ignored).
///
/// Both sides are reduced to an HMAC under a key drawn per process before the constant-time compare, so the
/// time taken reveals neither where they differ nor the token's length. The token never appears in
/// `description` (logs).
public struct APIToken: Sendable, CustomStringConvertible {
    private let digest: [UInt8]
    private let key: [UInt8]

    /// The environment variable that may hold the token.
    public static let environmentKey = "HIDIFF_API_TOKEN"

    /// A token from its bytes; throws `HTTPConfigurationError.tokenTooShort` under 16 bytes.
    public init(_ token: [UInt8]) throws {
        guard token.count >= TokenAuth.minimumTokenLength else {
            throw HTTPConfigurationError.tokenTooShort(length: token.count, minimum: TokenAuth.minimumTokenLength)
        }
        key = TokenAuth.makeNonce() + TokenAuth.makeNonce()
        digest = HMAC.sha256(key: key, message: token)
    }

    /// The token from `file` (read as the cluster token file is: at most 4 KiB, trailing whitespace dropped),
    /// else from `$HIDIFF_API_TOKEN`; nil when neither is given.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> APIToken? {
        if let file { return try APIToken(TokenAuth.loadToken(path: file)) }
        if let value = environment[environmentKey]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty {
            return try APIToken(Array(value.utf8))
        }
        return nil
    }

    /// Whether `authorization` (the header's value, or nil) carries this token.
    public func accepts(authorization: String?) -> Bool {
        guard let given = Self.credential(from: authorization) else { return false }
        return TokenAuth.constantTimeEqual(HMAC.sha256(key: key, message: given), digest)
    }

    /// The secret in a `Bearer T` or `Basic base64(user:T)` header value, or nil when it holds neither.
    static func credential(from authorization: String?) -> [UInt8]? {
        guard let authorization else { return nil }
        let parts = authorization.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let scheme = parts[0].lowercased(), value = parts[1].trimmingCharacters(in: .whitespaces)
        switch scheme {
        case "bearer":
            return Array(value.utf8)
        case "basic":
            guard let decoded = Data(base64Encoded: value), let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else {
                return nil
            }
            return Array(decoded[decoded.index(after: colon)...])
        default:
            return nil
        }
    }

    public var description: String { "APIToken(redacted)" }
}
