import Foundation
import HiDiffCore
import HiDiffGroup
import HiDiffProtocol
import HiDiffTestSupport
import XCTest

/// The listener and the join: who gets a link, who is refused, and that nothing a client sends hurts it.
final class ListenerTests: XCTestCase {
    private func hello(group: UInt64, size: Int = 3, dialer: Int = 2, acceptor: Int = 0) -> PeerHello {
        PeerHello(groupID: group, size: size, dialer: dialer, acceptor: acceptor, nonce: TokenAuth.makeNonce())
    }

    private func reason(_ m: Message?) -> String {
        if case .goodbye(let reason)? = m { return reason }
        return "not a goodbye: \(String(describing: m))"
    }

    /// Rank 0 of a three-member group joins on a thread, with a raw rank 1 as its next member and nobody as
    /// rank 2 (the tests dial in as rank 2 by hand); returns the listener, rank 1's listener, and the join's end.
    private func pendingJoin(group: UInt64, timeout: Double = 5) throws
        -> (PeerListener, RawListener, DispatchSemaphore, LockedBox<Result<TCPCollective, any Error>?>) {
        let listener = try PeerListener.bindBlocking(host: "127.0.0.1", port: 0, handshakeTimeout: 1, logger: testLogger)
        let rogue = try RawListener()
        let roster = try GroupRoster(groupID: group, members: [PeerAddress(host: "127.0.0.1", port: listener.port),
                                                               PeerAddress(host: "127.0.0.1", port: rogue.port),
                                                               PeerAddress(host: "127.0.0.1", port: LoopbackPort.unused())],
                                     rank: 0)
        let result = LockedBox<Result<TCPCollective, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            let r = Result { try TCPCollective.joinBlocking(roster: roster, listener: listener, token: groupToken,
                                                            timeout: timeout, logger: testLogger) }
            result.withValue { $0 = r }
            done.signal()
        }.start()
        return (listener, rogue, done, result)
    }

    func testUnknownGroupsAndUnexpectedRanksAreRefused() throws {
        let (listener, rogue, done, result) = try pendingJoin(group: 7)
        defer { listener.close() }
        _ = try rogue.acceptPeer(token: groupToken)  // rank 0 registered and dialed: it is waiting for rank 2
        // Before it proves the token a dialer learns only that it was refused, not which groups wait here or
        // their sizes (the listener logs the details).
        let refusals = [hello(group: 8), hello(group: 7, dialer: 0, acceptor: 1), hello(group: 7, size: 4, dialer: 3),
                        hello(group: 7, dialer: 1)]
        for h in refusals {
            let socket = try RawSocket.connect(port: listener.port)
            let answer = try socket.dial(h, token: groupToken)
            XCTAssertEqual(reason(answer), "refused: no group here is waiting for this link", "for \(h.binding)")
            XCTAssertTrue(socket.drainUntilClosed().closed)
        }
        // The real rank 2 still gets in, and rank 0's join completes.
        let socket = try RawSocket.connect(port: listener.port)
        XCTAssertEqual(try socket.dial(hello(group: 7), token: groupToken), .peerWelcome)
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        XCTAssertNoThrow(try XCTUnwrap(result.current).get().close())
        // A second link for the same join is refused: it was taken.
        let late = try RawSocket.connect(port: listener.port)
        XCTAssertEqual(reason(try late.dial(hello(group: 7), token: groupToken)), "refused: no group here is waiting for this link")
    }

    func testAWrongTokenIsRefusedAtTheHandshake() throws {
        let (listener, rogue, done, result) = try pendingJoin(group: 9)
        defer { listener.close() }
        _ = try rogue.acceptPeer(token: groupToken)
        // A client that cannot prove the token: refused, and the join keeps waiting.
        let impostor = try RawSocket.connect(port: listener.port)
        let answer = try impostor.dial(hello(group: 9), token: groupToken, proofToken: Array("not the token, but 16+".utf8))
        XCTAssertEqual(reason(answer), ProtocolError.authenticationFailed.description)
        XCTAssertTrue(impostor.drainUntilClosed().closed)
        // The real member still joins.
        let member = try RawSocket.connect(port: listener.port)
        XCTAssertEqual(try member.dial(hello(group: 9), token: groupToken), .peerWelcome)
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        XCTAssertNoThrow(try XCTUnwrap(result.current).get().close())
    }

    func testMembersWithDifferentTokensDoNotJoin() throws {
        let group = try LoopbackGroup(size: 2)
        let start = Date()
        let results = group.run(joinTimeout: 3, token: { rank in
            rank == 0 ? groupToken : Array("another group token, 32 bytes!!".utf8)
        }) { _, _ in () }
        XCTAssertLessThan(Date().timeIntervalSince(start), 8)
        var authenticationFailures = 0
        for (rank, result) in results.enumerated() {
            guard case .failure(let error)? = result else { return XCTFail("rank \(rank) joined: \(String(describing: result))") }
            if case GroupError.authenticationFailed = error { authenticationFailures += 1 }
        }
        XCTAssertGreaterThan(authenticationFailures, 0, "\(results)")
    }

    func testTheListenerSurvivesAnythingAClientSends() throws {
        let group = try LoopbackGroup(size: 2, handshakeTimeout: 0.5)
        let port = group.listeners[0].port
        var g = SplitMix(seed: 5)
        let inputs: [[UInt8]] = [
            [],                                                             // silence: the handshake timeout
            Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
            (0..<5000).map { _ in UInt8(truncatingIfNeeded: Int((g.next() + 1) * 128)) },
            Array("HDF".utf8) + [1, MessageType.peerData.rawValue, 0, 0, 0, 0, 0, 0x10, 0],  // 1 MiB unauthenticated
            Array("HDF".utf8) + [1, MessageType.peerHello.rawValue, 0, 0, 0, 3, 0, 0, 1, 2, 3],
            FrameCodec.frame(.peerProof(proof: Array(repeating: 1, count: 32))).readableBytesView.map { $0 },
            FrameCodec.frame(.hello(version: UInt16(FrameCodec.protocolVersion), name: "worker", nonce: TokenAuth.makeNonce())).readableBytesView.map { $0 },
        ]
        for bytes in inputs {
            let socket = try RawSocket.connect(port: port)
            socket.send(bytes: bytes)
            let (closed, _) = socket.drainUntilClosed(timeout: 3)
            XCTAssertTrue(closed, "the listener kept a connection open after \(bytes.prefix(16))")
        }
        // Many half-open connections at once, then a real group through the same listeners.
        let sockets = try (0..<20).map { _ in try RawSocket.connect(port: port) }
        let sums = try group.values { rank, c in try c.allReduceSum([Double(rank + 1)], kind: .norm) }
        XCTAssertEqual(sums, [[3], [3]])
        withExtendedLifetime(sockets) {}
    }

    func testAMemberThatStartsLateIsWaitedFor() throws {
        let group = try LoopbackGroup(size: 3)
        let results = onThreads(3) { rank in
            if rank == 2 { Thread.sleep(forTimeInterval: 1.5) }
            let c = try TCPCollective.joinBlocking(roster: try group.roster(rank, group: 5), listener: group.listeners[rank],
                                                   token: groupToken, timeout: 10, logger: testLogger)
            defer { c.close() }
            return try c.allReduceSum([Double(rank)], kind: .geometry)
        }
        for result in results { XCTAssertEqual(try XCTUnwrap(result).get(), [3]) }
    }

    func testAJoinWithoutItsPeersTimesOut() throws {
        let group = try LoopbackGroup(size: 2)
        let start = Date()
        XCTAssertThrowsError(try TCPCollective.joinBlocking(roster: try group.roster(0, group: 6),
                                                            listener: group.listeners[0], token: groupToken,
                                                            timeout: 1, logger: testLogger)) { error in
            guard case CollectiveError.timeout(1, 1, let what) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(what.contains("rank 1"), what)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 4)
        // The abandoned join is gone: the same group and rank may join again.
        XCTAssertThrowsError(try TCPCollective.joinBlocking(roster: try group.roster(0, group: 6),
                                                            listener: group.listeners[0], token: groupToken,
                                                            timeout: 0.3, logger: testLogger)) { error in
            XCTAssertNotEqual(error as? GroupError, .alreadyJoining(groupID: 6, rank: 0))
        }
    }

    func testTwoJoinsForTheSameGroupAndRankAreRefused() throws {
        let group = try LoopbackGroup(size: 2)
        let results = onThreads(2, limit: 10) { i in
            if i == 1 { Thread.sleep(forTimeInterval: 0.3) }
            return try TCPCollective.joinBlocking(roster: try group.roster(0, group: 3), listener: group.listeners[0],
                                                  token: groupToken, timeout: 1, logger: testLogger)
        }
        guard case .failure(let error)? = results[1] else { return XCTFail("\(results)") }
        XCTAssertEqual(error as? GroupError, .alreadyJoining(groupID: 3, rank: 0))
    }

    func testRostersAndAddressesAreChecked() throws {
        XCTAssertEqual(try PeerAddress("10.0.0.7:7100"), PeerAddress(host: "10.0.0.7", port: 7100))
        XCTAssertEqual(try PeerAddress("[::1]:80"), PeerAddress(host: "::1", port: 80))
        XCTAssertEqual(PeerAddress(host: "::1", port: 80).description, "[::1]:80")
        for bad in ["host", "host:0", "host:70000", ":80", "[::1]80", "host:x"] {
            XCTAssertThrowsError(try PeerAddress(bad), bad)
        }
        let a = PeerAddress(host: "h", port: 1)
        XCTAssertThrowsError(try GroupRoster(groupID: 1, members: [], rank: 0))
        XCTAssertThrowsError(try GroupRoster(groupID: 1, members: [a, a], rank: 2))
        XCTAssertThrowsError(try GroupRoster(groupID: 1, members: [a, PeerAddress(host: "h", port: 0)], rank: 0))
        let roster = try GroupRoster(groupID: 1, members: [a, a, a], rank: 0)
        XCTAssertEqual([roster.previous, roster.next], [2, 1])
    }

    func testASingleMemberNeedsNoLinks() throws {
        let listener = try PeerListener.bindBlocking(host: "127.0.0.1", port: 0, logger: testLogger)
        defer { listener.close() }
        let c = try TCPCollective.joinBlocking(roster: try GroupRoster(groupID: 1, members: [PeerAddress(host: "nowhere", port: 1)],
                                                                     rank: 0),
                                               listener: listener, token: groupToken, timeout: 1)
        XCTAssertEqual(try c.allReduceSum([-0.0, 2], kind: .norm).map(\.bitPattern), [0.0, 2.0].map(\.bitPattern))
        XCTAssertEqual(c.traffic, CollectiveTraffic())
    }
}
