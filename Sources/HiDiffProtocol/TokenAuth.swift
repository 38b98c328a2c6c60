#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The cluster token challenge-response. The token itself never crosses the wire: each side proves it holds the
/// token with an HMAC over both sides' fresh nonces, bound to its role (so one side's proof cannot be reflected
/// back as the other's) and to the worker's name.
public enum TokenAuth {
    /// Tokens shorter than this (after trimming) are refused.
    public static let minimumTokenLength = 16
    /// Token files longer than this are refused (a token is a line, not a document).
    public static let maximumTokenFileSize = 4096
    /// Nonce and proof length.
    public static let nonceSize = 32

    /// HMAC-SHA256(token, "hidiff-auth-v1" ‖ len‖role ‖ len‖name ‖ len‖workerNonce ‖ len‖coordinatorNonce), every
    /// len a u32 little-endian byte count, so no two different field tuples produce the same message.
    /// `role` is "coordinator" or "worker"; `name` is the worker's name from its hello.
    public static func proof(token: [UInt8], role: String, name: String, workerNonce: [UInt8],
                             coordinatorNonce: [UInt8]) -> [UInt8] {
        var message = Array("hidiff-auth-v1".utf8)
        for field in [Array(role.utf8), Array(name.utf8), workerNonce, coordinatorNonce] {
            let n = UInt32(truncatingIfNeeded: field.count)
            message += [UInt8(truncatingIfNeeded: n), UInt8(truncatingIfNeeded: n >> 8),
                        UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 24)]
            message += field
        }
        return HMAC.sha256(key: token, message: message)
    }

    /// True when `a` and `b` are equal. Equal-length inputs are compared in time independent of where they differ
    /// (every byte is visited, differences are OR-ed, no early exit); a length mismatch returns false at once, which
    /// reveals only the length (public: proofs are always 32 bytes).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    /// A fresh nonce from the system's cryptographically secure generator (getrandom / arc4random).
    public static func makeNonce() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<nonceSize).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
    }

    /// Why a token file could not be used. Descriptions name the path and the problem, never the contents.
    public enum TokenFileError: Error, CustomStringConvertible, Sendable, Equatable {
        /// No file at the path.
        case missing(path: String)
        /// The path is a folder.
        case isDirectory(path: String)
        /// The file exists but could not be read (permissions, I/O error); `errno` says why.
        case unreadable(path: String, errno: Int32)
        /// After trimming trailing whitespace the token is shorter than `minimumTokenLength`.
        case tooShort(path: String, length: Int)
        /// The file is larger than `maximumTokenFileSize`.
        case tooLarge(path: String)

        /// A one-line reason naming the path, never the token.
        public var description: String {
            switch self {
            case .missing(let path):
                return "cluster token file \(path) does not exist"
            case .isDirectory(let path):
                return "cluster token path \(path) is a folder, not a file"
            case .unreadable(let path, let err):
                return "cluster token file \(path) cannot be read (errno \(err))"
            case .tooShort(let path, let length):
                return "cluster token in \(path) is \(length) bytes; at least \(TokenAuth.minimumTokenLength) "
                    + "are required (e.g. openssl rand -hex 32)"
            case .tooLarge(let path):
                return "cluster token file \(path) is larger than \(TokenAuth.maximumTokenFileSize) bytes"
            }
        }
    }

    /// Reads the cluster token: the file's bytes with trailing whitespace (space, tab, CR, LF) removed.
    /// Throws `TokenFileError` when the file is missing, a folder, unreadable, too large or the token too short.
    public static func loadToken(path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT || err == ENOTDIR { throw TokenFileError.missing(path: path) }
            if err == EISDIR { throw TokenFileError.isDirectory(path: path) }
            throw TokenFileError.unreadable(path: path, errno: err)
        }
        defer { close(fd) }

        // Read at most one byte more than allowed, so an oversized file is detected without reading all of it.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: maximumTokenFileSize + 1)
        while bytes.count <= maximumTokenFileSize {
            let want = maximumTokenFileSize + 1 - bytes.count
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
            if n < 0 {
                let err = errno
                if err == EINTR { continue }
                // Linux and macOS open a folder read-only fine and fail the read with EISDIR.
                if err == EISDIR { throw TokenFileError.isDirectory(path: path) }
                throw TokenFileError.unreadable(path: path, errno: err)
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        guard bytes.count <= maximumTokenFileSize else { throw TokenFileError.tooLarge(path: path) }
        while let last = bytes.last, last == 0x20 || last == 0x09 || last == 0x0a || last == 0x0d {
            bytes.removeLast()
        }
        guard bytes.count >= minimumTokenLength else { throw TokenFileError.tooShort(path: path, length: bytes.count) }
        return bytes
    }
}
