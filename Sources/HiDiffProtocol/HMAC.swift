/// HMAC (RFC 2104) over this module's `SHA256`.
public enum HMAC {
    /// HMAC-SHA256 of `message` under `key` (any length; keys longer than a block are hashed first).
    public static func sha256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var k = key.count > SHA256.blockSize ? SHA256.hash(key) : key
        k += [UInt8](repeating: 0, count: SHA256.blockSize - k.count)

        var inner = SHA256()
        inner.update(k.map { $0 ^ 0x36 })
        inner.update(message)
        var outer = SHA256()
        outer.update(k.map { $0 ^ 0x5c })
        outer.update(inner.finalize())
        return outer.finalize()
    }
}
