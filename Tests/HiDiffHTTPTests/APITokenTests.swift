import Foundation
import HiDiffHTTP
import XCTest

final class APITokenTests: XCTestCase {
    let secret = "0123456789abcdef-api"

    func testBearerAndBasicPasswordAreAccepted() throws {
        let token = try APIToken(Array(secret.utf8))
        XCTAssertTrue(token.accepts(authorization: "Bearer \(secret)"))
        XCTAssertTrue(token.accepts(authorization: "bearer   \(secret)"))
        let basic = Data("anyone:\(secret)".utf8).base64EncodedString()
        XCTAssertTrue(token.accepts(authorization: "Basic \(basic)"), "the password of basic auth, any user")
        let colonInPassword = try APIToken(Array("pass:word-0123456789".utf8))
        XCTAssertTrue(colonInPassword.accepts(authorization: "Basic " + Data("u:pass:word-0123456789".utf8).base64EncodedString()))
    }

    func testEverythingElseIsRefused() throws {
        let token = try APIToken(Array(secret.utf8))
        for header in [nil, "", "Bearer", "Bearer \(secret)x", "Bearer \(secret.dropLast())", "Token \(secret)",
                       "Basic " + Data("\(secret):x".utf8).base64EncodedString(), "Basic !!!",
                       "Basic " + Data(secret.utf8).base64EncodedString()] {
            XCTAssertFalse(token.accepts(authorization: header), "\(header ?? "nil")")
        }
        XCTAssertFalse(token.description.contains(secret))
    }

    func testShortTokensAndTheEnvironment() throws {
        XCTAssertThrowsError(try APIToken(Array("short".utf8))) { error in
            XCTAssertTrue("\(error)".contains("at least 16"), "\(error)")
        }
        XCTAssertNil(try APIToken.load(file: nil, environment: [:]))
        let fromEnv = try XCTUnwrap(try APIToken.load(file: nil, environment: ["HIDIFF_API_TOKEN": "\(secret)\n"]))
        XCTAssertTrue(fromEnv.accepts(authorization: "Bearer \(secret)"))
        let file = NSTemporaryDirectory() + "api-token-\(UUID().uuidString)"
        try Data("file-token-0123456789\n".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let fromFile = try XCTUnwrap(try APIToken.load(file: file, environment: ["HIDIFF_API_TOKEN": secret]))
        XCTAssertTrue(fromFile.accepts(authorization: "Bearer file-token-0123456789"), "the file wins over the environment")
        XCTAssertFalse(fromFile.accepts(authorization: "Bearer \(secret)"))
    }
}
