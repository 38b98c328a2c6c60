import Foundation
import HiDiffCore
import HiDiffGroup
import HiDiffTestSupport
import HiDiffTLS
import XCTest

/// Group links over TLS: members with certificates from the cluster's CA form a ring and compute the same
/// sums as over plain TCP; a member whose certificate another CA signed is refused, whichever side it is on.
final class GroupTLSTests: XCTestCase {
    var certs: TestCertificates!
    var other: TestCertificates!

    override func setUpWithError() throws {
        certs = try TestCertificates(names: ["rank-0", "rank-1", "rank-2"])
        other = try TestCertificates(names: ["intruder"])
    }

    override func tearDown() {
        certs?.remove()
        other?.remove()
    }

    func tls(_ set: TestCertificates, _ name: String) throws -> LinkTLS {
        try XCTUnwrap(try LinkTLS.load(TLSFiles(certificate: set.certificate(name), key: set.key(name), ca: certs.ca),
                                       serves: true, role: "test"))
    }

    func listeners(_ tls: [LinkTLS]) throws -> [PeerListener] {
        try tls.map { try PeerListener.bindBlocking(host: "127.0.0.1", port: 0, handshakeTimeout: 2, tls: $0, logger: testLogger) }
    }

    func join(_ listeners: [PeerListener], group: UInt64, timeout: Double) -> [Result<[Float], any Error>?] {
        let addresses = listeners.map { PeerAddress(host: "127.0.0.1", port: $0.port) }
        return onThreads(listeners.count, limit: 30) { rank in
            let c = try TCPCollective.joinBlocking(roster: try GroupRoster(groupID: group, members: addresses, rank: rank),
                                                   listener: listeners[rank], token: groupToken, timeout: timeout,
                                                   logger: testLogger)
            defer { c.close() }
            return try c.allReduceSum([Double(rank + 1)], kind: .norm).map(Float.init)
        }
    }

    func testAGroupOfThreeOverTLSSumsAsOverTCP() throws {
        let ls = try listeners([try tls(certs, "rank-0"), try tls(certs, "rank-1"), try tls(certs, "rank-2")])
        defer { ls.forEach { $0.close() } }
        let results = join(ls, group: 41, timeout: 10)
        for (rank, result) in results.enumerated() {
            XCTAssertEqual(try XCTUnwrap(result).get(), [6], "rank \(rank)")
        }
    }

    func testAMemberWithACertificateFromAnotherCAIsRefused() throws {
        // Rank 1 trusts the cluster CA but presents a certificate another CA signed: rank 0 refuses its link,
        // and rank 1 cannot be verified by rank 2 either. No member forms the group.
        let ls = try listeners([try tls(certs, "rank-0"), try tls(other, "intruder"), try tls(certs, "rank-2")])
        defer { ls.forEach { $0.close() } }
        let start = Date()
        let results = join(ls, group: 42, timeout: 6)
        for (rank, result) in results.enumerated() {
            XCTAssertThrowsError(try XCTUnwrap(result).get(), "rank \(rank) must not join")
        }
        // Rank 0 dials rank 1, whose certificate does not verify: that is final (an authentication failure),
        // not retried until the join times out.
        if case .failure(let error)? = results[0] {
            XCTAssertTrue(error is GroupError, "rank 0: \(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 25)
    }
}
