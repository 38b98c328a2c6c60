import Foundation
import HiDiffTestSupport
import HiDiffTLS
import XCTest

/// Loading certificates and keys: every bad file is refused at start with the flag, the path and what to do.
final class LinkTLSLoadTests: XCTestCase {
    var certs: TestCertificates!

    override func setUpWithError() throws { certs = try TestCertificates(names: ["a", "b"]) }
    override func tearDown() { certs?.remove() }

    func load(_ files: TLSFiles, serves: Bool = true) throws -> LinkTLS? {
        try LinkTLS.load(files, serves: serves, role: "the coordinator")
    }

    func testGoodFilesLoad() throws {
        let tls = try XCTUnwrap(try load(TLSFiles(certificate: certs.certificate("a"), key: certs.key("a"), ca: certs.ca)))
        XCTAssertTrue(tls.isMutual)
        XCTAssertNotNil(tls.httpServerConfiguration)
        XCTAssertTrue(tls.summary.contains("mutual TLS"), tls.summary)
        // A worker that only dials may trust the CA without a certificate of its own.
        let client = try XCTUnwrap(try load(TLSFiles(ca: certs.ca), serves: false))
        XCTAssertNil(client.httpServerConfiguration)
    }

    func testAMissingFileIsNamed() {
        let missing = certs.dir + "/nope.pem"
        XCTAssertThrowsError(try load(TLSFiles(certificate: missing, key: certs.key("a")))) {
            XCTAssertEqual($0 as? TLSConfigurationError, .unreadable(flag: "--tls-cert", path: missing, reason: "no such file"))
            XCTAssertTrue("\($0)".contains("cannot read --tls-cert \(missing)"), "\($0)")
        }
        XCTAssertThrowsError(try load(TLSFiles(certificate: certs.certificate("a"), key: certs.key("a"), ca: certs.dir))) {
            XCTAssertEqual($0 as? TLSConfigurationError, .unreadable(flag: "--tls-ca", path: certs.dir, reason: "it is a folder"))
        }
    }

    func testAFileThatIsNotPEMIsNamed() throws {
        let junk = certs.dir + "/junk.pem"
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: junk))
        XCTAssertThrowsError(try load(TLSFiles(certificate: junk, key: certs.key("a")))) {
            guard case let .notPEM(flag, path, expected, _) = $0 as? TLSConfigurationError else { return XCTFail("\($0)") }
            XCTAssertEqual([flag, path, expected], ["--tls-cert", junk, "certificate"])
        }
        XCTAssertThrowsError(try load(TLSFiles(certificate: certs.certificate("a"), key: junk))) {
            guard case let .notPEM(flag, _, expected, _) = $0 as? TLSConfigurationError else { return XCTFail("\($0)") }
            XCTAssertEqual([flag, expected], ["--tls-key", "private key"])
        }
        // A key given as the certificate: a PEM file, but no certificate in it.
        XCTAssertThrowsError(try load(TLSFiles(certificate: certs.key("a"), key: certs.key("a")))) {
            guard case .notPEM = $0 as? TLSConfigurationError else { return XCTFail("\($0)") }
        }
    }

    func testAKeyOfAnotherCertificateIsRefused() {
        XCTAssertThrowsError(try load(TLSFiles(certificate: certs.certificate("a"), key: certs.key("b"), ca: certs.ca))) {
            XCTAssertEqual($0 as? TLSConfigurationError,
                           .keyMismatch(certificate: certs.certificate("a"), key: certs.key("b")))
            XCTAssertTrue("\($0)".contains("is not the private key of --tls-cert"), "\($0)")
        }
    }
}
