import NIOCore

/// The first message of a peer link, dialer to acceptor: which render group, its size, and which two ranks the
/// link joins. Both handshake proofs bind all of it (`binding`), so a proof made for one group or one pair of
/// ranks is worthless for any other.
///
/// Wire layout: group id u64, size u32, dialer rank u32, acceptor rank u32, nonce (u32 length + 32 bytes).
public struct PeerHello: Sendable, Equatable {
    /// The group (one sharded job attempt); chosen by whoever forms the group.
    public var groupID: UInt64
    /// Number of members, 2...`maxGroupSize` (a one-member group has no links).
    public var size: Int
    /// The rank that opened the connection.
    public var dialer: Int
    /// The rank the dialer expects to reach.
    public var acceptor: Int
    /// The dialer's fresh 32-byte nonce (`TokenAuth.makeNonce()`).
    public var nonce: [UInt8]

    /// The largest group the wire format accepts.
    public static let maxGroupSize = 1024
    /// The role string of the acceptor's proof (`TokenAuth.proof`).
    public static let acceptorRole = "peer-acceptor"
    /// The role string of the dialer's proof.
    public static let dialerRole = "peer-dialer"

    /// Memberwise; `validate()` (and the decoder) check the ranges.
    public init(groupID: UInt64, size: Int, dialer: Int, acceptor: Int, nonce: [UInt8]) {
        self.groupID = groupID
        self.size = size
        self.dialer = dialer
        self.acceptor = acceptor
        self.nonce = nonce
    }

    /// What the proofs are bound to, in place of the worker name of the coordinator handshake.
    public var binding: String { "group \(groupID) of \(size): rank \(dialer) -> rank \(acceptor)" }

    /// The proof of `role` (`acceptorRole` or `dialerRole`) over both nonces and `binding`.
    public func proof(token: [UInt8], role: String, acceptorNonce: [UInt8]) -> [UInt8] {
        TokenAuth.proof(token: token, role: role, name: binding, workerNonce: nonce, coordinatorNonce: acceptorNonce)
    }

    /// Throws the `ProtocolError` a decoder raises for these values.
    public func validate() throws {
        guard size >= 2, size <= Self.maxGroupSize else {
            throw ProtocolError.invalidField(name: "peerHello.size",
                                             reason: "\(size) is outside 2...\(Self.maxGroupSize)")
        }
        for (name, rank) in [("peerHello.dialer", dialer), ("peerHello.acceptor", acceptor)]
        where !(0..<size).contains(rank) {
            throw ProtocolError.invalidField(name: name, reason: "rank \(rank) is outside a group of \(size)")
        }
        guard dialer != acceptor else {
            throw ProtocolError.invalidField(name: "peerHello.acceptor", reason: "a rank cannot link to itself")
        }
        guard nonce.count == TokenAuth.nonceSize else {
            throw ProtocolError.invalidField(name: "peerHello.nonce",
                                             reason: "must be \(TokenAuth.nonceSize) bytes, got \(nonce.count)")
        }
    }

    /// `validate()`'s error, or nil when the values are valid.
    public var validationError: ProtocolError? {
        do { try validate() } catch { return error as? ProtocolError }
        return nil
    }

    func write(into b: inout ByteBuffer) {
        b.writeWireInteger(groupID)
        b.writeWireInteger(UInt32(truncatingIfNeeded: size))
        b.writeWireInteger(UInt32(truncatingIfNeeded: dialer))
        b.writeWireInteger(UInt32(truncatingIfNeeded: acceptor))
        b.writeWireBytes(nonce)
    }

    static func read(from b: inout ByteBuffer) throws -> PeerHello {
        let hello = PeerHello(groupID: try b.readWireInteger("peerHello.groupID"),
                              size: Int(try b.readWireInteger("peerHello.size", as: UInt32.self)),
                              dialer: Int(try b.readWireInteger("peerHello.dialer", as: UInt32.self)),
                              acceptor: Int(try b.readWireInteger("peerHello.acceptor", as: UInt32.self)),
                              nonce: try b.readWireBytes("peerHello.nonce", exactly: TokenAuth.nonceSize))
        try hello.validate()
        return hello
    }
}
