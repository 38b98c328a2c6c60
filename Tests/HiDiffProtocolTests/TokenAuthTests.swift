import Foundation
import HiDiffProtocol
import XCTest

final class TokenAuthTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("hidiff-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func write(_ contents: String, _ name: String = "token") throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        return url.path
    }

    private func loadError(_ path: String) -> TokenAuth.TokenFileError? {
        do {
            _ = try TokenAuth.loadToken(path: path)
            XCTFail("expected a TokenFileError for \(path)")
        } catch let e as TokenAuth.TokenFileError {
            return e
        } catch {
            XCTFail("unexpected error \(error)")
        }
        return nil
    }

    func testLoadsAndTrimsTrailingWhitespaceOnly() throws {
        let path = try write("  s3cret-token-0123456789abcdef \t\r\n\n")
        XCTAssertEqual(try TokenAuth.loadToken(path: path), Array("  s3cret-token-0123456789abcdef".utf8))
        let exact = try write("0123456789abcdef", "exact")
        XCTAssertEqual(try TokenAuth.loadToken(path: exact).count, 16)
    }

    func testMissingFile() {
        let path = folder.appendingPathComponent("nope").path
        XCTAssertEqual(loadError(path), .missing(path: path))
        XCTAssertEqual(loadError(path + "/deeper"), .missing(path: path + "/deeper"))
    }

    func testTooShortAfterTrimming() throws {
        let path = try write("0123456789abcde\n\n   ")  // 15 bytes of token
        XCTAssertEqual(loadError(path), .tooShort(path: path, length: 15))
        let empty = try write("", "empty")
        XCTAssertEqual(loadError(empty), .tooShort(path: empty, length: 0))
    }

    func testAFolderIsRefused() {
        XCTAssertEqual(loadError(folder.path), .isDirectory(path: folder.path))
    }

    func testAHugeFileIsRefused() throws {
        let path = try write(String(repeating: "x", count: TokenAuth.maximumTokenFileSize + 1))
        XCTAssertEqual(loadError(path), .tooLarge(path: path))
        let atMax = try write(String(repeating: "y", count: TokenAuth.maximumTokenFileSize), "max")
        XCTAssertEqual(try TokenAuth.loadToken(path: atMax).count, TokenAuth.maximumTokenFileSize)
    }

    func testErrorDescriptionsNameThePathButNeverTheToken() throws {
        let path = try write("SECRETSECRET")
        let e = try XCTUnwrap(loadError(path))
        XCTAssertTrue(e.description.contains(path))
        XCTAssertFalse(e.description.contains("SECRET"))
        XCTAssertTrue(e.description.contains("at least 16"))
    }

    func testProofIsBoundToEveryInput() {
        let base = TokenAuth.proof(token: Fixtures.token, role: "worker", name: "w1", workerNonce: Fixtures.nonceA,
                                   coordinatorNonce: Fixtures.nonceB)
        XCTAssertEqual(base.count, 32)
        XCTAssertEqual(base, TokenAuth.proof(token: Fixtures.token, role: "worker", name: "w1",
                                             workerNonce: Fixtures.nonceA, coordinatorNonce: Fixtures.nonceB))
        let variants = [
            // (Not `token + [0]`: HMAC zero-pads short keys, so trailing NUL bytes are invisible, as in any HMAC.)
            TokenAuth.proof(token: Fixtures.token + [1], role: "worker", name: "w1", workerNonce: Fixtures.nonceA,
                            coordinatorNonce: Fixtures.nonceB),
            TokenAuth.proof(token: Fixtures.token, role: "coordinator", name: "w1", workerNonce: Fixtures.nonceA,
                            coordinatorNonce: Fixtures.nonceB),
            TokenAuth.proof(token: Fixtures.token, role: "worker", name: "w2", workerNonce: Fixtures.nonceA,
                            coordinatorNonce: Fixtures.nonceB),
            // Swapped nonces must not give the same proof.
            TokenAuth.proof(token: Fixtures.token, role: "worker", name: "w1", workerNonce: Fixtures.nonceB,
                            coordinatorNonce: Fixtures.nonceA),
            // Field boundaries are length-prefixed: moving a byte between role and name changes the proof.
            TokenAuth.proof(token: Fixtures.token, role: "worke", name: "rw1", workerNonce: Fixtures.nonceA,
                            coordinatorNonce: Fixtures.nonceB),
        ]
        for v in variants { XCTAssertNotEqual(v, base) }
        // The proof does not contain the token or reveal it trivially.
        XCTAssertNotEqual(Array(base.prefix(Fixtures.token.count)), Fixtures.token)
    }

    func testNoncesAreFreshAnd32Bytes() {
        let a = TokenAuth.makeNonce(), b = TokenAuth.makeNonce()
        XCTAssertEqual(a.count, 32)
        XCTAssertEqual(b.count, 32)
        XCTAssertNotEqual(a, b)
    }
}
