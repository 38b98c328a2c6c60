import HiDiffTLS
import XCTest

/// The flag rules, without files or sockets.
final class TLSFilesTests: XCTestCase {
    func testNoFlagIsPlainTCP() throws {
        XCTAssertFalse(TLSFiles().isEnabled)
        XCTAssertNoThrow(try TLSFiles().check(serves: true, role: "the coordinator"))
        XCTAssertNil(try LinkTLS.load(TLSFiles(), serves: true, role: "the coordinator"))
    }

    func testCertificateAndKeyComeTogether() {
        XCTAssertThrowsError(try TLSFiles(certificate: "c.pem").check(serves: false, role: "x")) {
            XCTAssertEqual($0 as? TLSConfigurationError, .missingKey(certificate: "c.pem"))
            XCTAssertTrue("\($0)".contains("--tls-key"), "\($0)")
        }
        XCTAssertThrowsError(try TLSFiles(key: "k.pem", ca: "ca.pem").check(serves: false, role: "x")) {
            XCTAssertEqual($0 as? TLSConfigurationError, .missingCertificate(key: "k.pem"))
        }
    }

    func testAServerNeedsACertificateAClientDoesNot() {
        let caOnly = TLSFiles(ca: "ca.pem")
        XCTAssertTrue(caOnly.isEnabled)
        XCTAssertTrue(caOnly.isMutual)
        XCTAssertNoThrow(try caOnly.check(serves: false, role: "a worker"))
        XCTAssertThrowsError(try caOnly.check(serves: true, role: "the coordinator")) {
            XCTAssertEqual($0 as? TLSConfigurationError, .serverNeedsIdentity(role: "the coordinator"))
            XCTAssertTrue("\($0)".hasPrefix("the coordinator accepts TLS connections"), "\($0)")
        }
        XCTAssertFalse(TLSFiles(certificate: "c", key: "k").isMutual)
    }
}
