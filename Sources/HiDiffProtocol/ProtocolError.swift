/// Every way a peer can break the protocol. Any of these closes that one connection (with `description` as the
/// logged reason); none of them is fatal to the process or to other connections.
///
/// A struct wrapping `Kind` so new cases can be added without breaking exhaustive switches in callers; build one
/// with the static members (`ProtocolError.badMagic`, `.frameTooLarge(type:length:max:)`, ...) and inspect `kind`.
public struct ProtocolError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The frame does not start with "HDF".
        case badMagic
        /// The frame's protocol version byte is not one this build speaks.
        case unsupportedVersion(UInt8)
        /// The frame's message type byte is not a `MessageType`.
        case unknownType(UInt8)
        /// The flags byte or the reserved bytes of the header are not zero.
        case reservedBits
        /// The header announces a payload longer than the type allows (decided from the header alone).
        case frameTooLarge(type: MessageType, length: Int, max: Int)
        /// The payload ended in the middle of `field`, or a count/shape claims more bytes than the payload holds.
        case truncated(field: String)
        /// The payload decoded completely but `count` bytes were left over.
        case trailingBytes(type: MessageType, count: Int)
        /// A field has an impossible value (bad UTF-8, wrong nonce size, rank over 8, non-finite number, ...).
        case invalidField(name: String, reason: String)
        /// A well-formed message arrived when the link state does not allow it (e.g. register before proof).
        case unexpected(message: String, state: String)
        /// The peer's proof of the cluster token did not verify.
        case authenticationFailed
        /// Something did not happen in time (the handshake, or any traffic on a live link).
        case timeout(what: String)
    }

    /// The specific failure.
    public let kind: Kind

    /// Wraps a kind; prefer the static members below.
    public init(_ kind: Kind) { self.kind = kind }

    /// See `Kind.badMagic`.
    public static let badMagic = ProtocolError(.badMagic)
    /// See `Kind.unsupportedVersion`.
    public static func unsupportedVersion(_ v: UInt8) -> ProtocolError { ProtocolError(.unsupportedVersion(v)) }
    /// See `Kind.unknownType`.
    public static func unknownType(_ t: UInt8) -> ProtocolError { ProtocolError(.unknownType(t)) }
    /// See `Kind.reservedBits`.
    public static let reservedBits = ProtocolError(.reservedBits)
    /// See `Kind.frameTooLarge`.
    public static func frameTooLarge(type: MessageType, length: Int, max: Int) -> ProtocolError {
        ProtocolError(.frameTooLarge(type: type, length: length, max: max))
    }
    /// See `Kind.truncated`.
    public static func truncated(field: String) -> ProtocolError { ProtocolError(.truncated(field: field)) }
    /// See `Kind.trailingBytes`.
    public static func trailingBytes(type: MessageType, count: Int) -> ProtocolError {
        ProtocolError(.trailingBytes(type: type, count: count))
    }
    /// See `Kind.invalidField`.
    public static func invalidField(name: String, reason: String) -> ProtocolError {
        ProtocolError(.invalidField(name: name, reason: reason))
    }
    /// See `Kind.unexpected`.
    public static func unexpected(message: String, state: String) -> ProtocolError {
        ProtocolError(.unexpected(message: message, state: state))
    }
    /// See `Kind.authenticationFailed`.
    public static let authenticationFailed = ProtocolError(.authenticationFailed)
    /// See `Kind.timeout`.
    public static func timeout(what: String) -> ProtocolError { ProtocolError(.timeout(what: what)) }

    /// A one-line reason suitable for logs and goodbye messages. Never contains secrets (tokens, proofs).
    public var description: String {
        switch kind {
        case .badMagic:
            return "bad frame magic (not an HDF frame)"
        case .unsupportedVersion(let v):
            return "unsupported protocol version \(v) (this build speaks \(FrameCodec.protocolVersion))"
        case .unknownType(let t):
            return "unknown message type \(t)"
        case .reservedBits:
            return "non-zero flags or reserved header bytes"
        case .frameTooLarge(let type, let length, let max):
            return "\(type) frame of \(length) bytes exceeds the maximum of \(max) bytes"
        case .truncated(let field):
            return "frame truncated in field \(field)"
        case .trailingBytes(let type, let count):
            return "\(count) trailing bytes after a complete \(type) payload"
        case .invalidField(let name, let reason):
            return "invalid field \(name): \(reason)"
        case .unexpected(let message, let state):
            return "unexpected \(message) message while \(state)"
        case .authenticationFailed:
            return "authentication failed (peer does not hold the cluster token)"
        case .timeout(let what):
            return "timed out: \(what)"
        }
    }
}
