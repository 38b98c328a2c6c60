/// CLIP's (and GPT-2's) reversible map from UTF-8 bytes to printable Unicode scalars (`bytes_to_unicode`).
///
/// The printable Latin-1 bytes map to themselves; the remaining 68 bytes (controls, space, 0x7F-0xA0,
/// 0xAD) map to U+0100 onwards in byte order, so BPE never sees whitespace or control characters.
enum CLIPByteAlphabet {
    /// `scalars[b]` is the scalar standing for byte `b`.
    static let scalars: [Unicode.Scalar] = {
        func printable(_ b: Int) -> Bool {
            (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
        }
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next = 256
        for b in 0..<256 {
            if printable(b) {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(UInt32(next))!
                next += 1
            }
        }
        return table
    }()

    /// The byte-level spelling of `piece`: one scalar per UTF-8 byte.
    static func encode(_ piece: some Sequence<Unicode.Scalar>) -> String {
        var out = String.UnicodeScalarView()
        for scalar in piece {
            UTF8.encode(scalar) { byte in out.append(scalars[Int(byte)]) }
        }
        return String(out)
    }
}
