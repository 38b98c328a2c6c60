import HiDiffProtocol
import XCTest

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

final class CryptoTests: XCTestCase {
    // FIPS 180-4 / NIST CSRC example vectors.
    func testSHA256Vectors() {
        XCTAssertEqual(hex(SHA256.hash([])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex(SHA256.hash(Array("abc".utf8))),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        XCTAssertEqual(hex(SHA256.hash(Array(m896.utf8))),
                       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    func testSHA256OneMillionA() {
        XCTAssertEqual(hex(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testSHA256StreamingInOddChunksEqualsOneShot() {
        var rng = SplitMix64(seed: 3)
        let message = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for chunk in [1, 3, 55, 56, 63, 64, 65, 1000] {
            var sha = SHA256()
            var i = 0
            while i < message.count {
                sha.update(Array(message[i..<min(i + chunk, message.count)]))
                i += chunk
            }
            XCTAssertEqual(sha.finalize(), SHA256.hash(message), "chunk \(chunk)")
        }
        // Padding boundaries: 55 bytes fit one block, 56 need two.
        for n in [55, 56, 63, 64, 119, 120] {
            var sha = SHA256()
            sha.update(Array(message[0..<n]))
            XCTAssertEqual(sha.finalize(), sha.finalize(), "finalize does not disturb the state")
            XCTAssertNotEqual(SHA256.hash(Array(message[0..<n])), SHA256.hash(Array(message[0..<n - 1])))
        }
    }

    // RFC 4231 test cases 1-4, 6, 7 (5 is a truncated MAC).
    func testHMACSHA256RFC4231() {
        let cases: [(key: [UInt8], data: [UInt8], mac: String)] = [
            ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            ([UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
             "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            (Array(1...25), [UInt8](repeating: 0xcd, count: 50),
             "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
            ([UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
            ([UInt8](repeating: 0xaa, count: 131),
             Array(("This is a test using a larger than block-size key and a larger than block-size data. "
                    + "The key needs to be hashed before being used by the HMAC algorithm.").utf8),
             "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
        ]
        for (i, c) in cases.enumerated() {
            XCTAssertEqual(hex(HMAC.sha256(key: c.key, message: c.data)), c.mac, "case \(i)")
        }
    }

    func testConstantTimeEqualSemantics() {
        let a = Fixtures.nonceA
        XCTAssertTrue(TokenAuth.constantTimeEqual(a, a))
        XCTAssertTrue(TokenAuth.constantTimeEqual([], []))
        for i in [0, 15, 31] {
            var b = a
            b[i] ^= 0x01
            XCTAssertFalse(TokenAuth.constantTimeEqual(a, b), "differs at \(i)")
            b[i] ^= 0x81  // 0x80 left over: a high bit difference
            XCTAssertFalse(TokenAuth.constantTimeEqual(a, b))
        }
        XCTAssertFalse(TokenAuth.constantTimeEqual(a, Array(a.dropLast())))
        XCTAssertFalse(TokenAuth.constantTimeEqual(a, a + [0]))
        XCTAssertFalse(TokenAuth.constantTimeEqual([], [0]))
    }
}
