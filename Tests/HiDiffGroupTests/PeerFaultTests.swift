import Foundation
import HiDiffCore
import HiDiffGroup
import HiDiffTestSupport
import XCTest

/// A member that leaves or fails mid-run: every other member throws within a bounded time, never hangs, and
/// a broken collective stays broken.
final class PeerFaultTests: XCTestCase {
    /// Every member's error after `body`; asserts they all ended within `bound` seconds (well under the call
    /// timeout, so the failure travelled by closed links, not by timeouts).
    private func failures(size: Int, callTimeout: Double = 20, bound: Double = 5,
                          _ body: @escaping @Sendable (Int, TCPCollective) throws -> Void) throws -> [CollectiveError?] {
        let group = try LoopbackGroup(size: size)
        let start = Date()
        let results = group.run(configuration: .init(callTimeout: callTimeout), limit: callTimeout + 10, body)
        XCTAssertLessThan(Date().timeIntervalSince(start), bound)
        return results.map { result in
            guard case .failure(let error)? = result else { return nil }
            return error as? CollectiveError
        }
    }

    private func isLostOrBroken(_ e: CollectiveError?) -> Bool {
        switch e {
        case .peerLost?, .broken?: return true
        default: return false
        }
    }

    func testAMemberThatClosesMidRunMakesTheOthersFailFast() throws {
        for size in [2, 3, 4] {
            let errors = try failures(size: size) { rank, c in
                _ = try c.allReduceSum([Double(rank)], kind: .norm)
                if rank == size - 1 {
                    c.close()
                    return
                }
                _ = try c.allGather(Tensor(zeros: [1, 2]), axis: 0, kind: .attention)
                XCTFail("rank \(rank) finished a call without its peer")
            }
            for rank in 0..<(size - 1) {
                XCTAssertTrue(isLostOrBroken(errors[rank]), "K=\(size) rank \(rank): \(String(describing: errors[rank]))")
            }
            if case .peerLost(_, let reason)? = errors[0] {
                XCTAssertTrue(reason.contains("left the group") || reason.contains("closed"), reason)
            }
        }
    }

    func testAMemberThatFailsACallBreaksTheGroupEverywhere() throws {
        // Rank 2's stripe has one row but its neighbour needs two: it throws, and its links close. Rank 0 is not
        // its neighbour, so it learns at its next call.
        let errors = try failures(size: 3) { rank, c in
            let x = Tensor(zeros: [1, 1, rank == 2 ? 1 : 4, 3])
            _ = try c.haloRows(x, above: 2, below: 2)
            _ = try c.allReduceSum([1], kind: .norm)
            XCTFail("rank \(rank) finished")
        }
        XCTAssertEqual(errors[2], .invalidStripe(reason: "rank 2 has 1 rows; a neighbour needs 2"))
        XCTAssertTrue(isLostOrBroken(errors[0]), "\(String(describing: errors[0]))")
        XCTAssertTrue(isLostOrBroken(errors[1]), "\(String(describing: errors[1]))")
        if case .peerLost(let rank, let reason)? = errors[1] {
            XCTAssertEqual(rank, 2)
            XCTAssertTrue(reason.contains("1 rows"), "the reason travels to the peers: \(reason)")
        }
    }

    func testAfterAnErrorEveryCallThrowsBroken() throws {
        let group = try LoopbackGroup(size: 2)
        let results = group.run { rank, c -> [CollectiveError] in
            var errors: [CollectiveError] = []
            // The members disagree on the call: a mismatch on both sides (or a lost peer, if one side closed first).
            do { _ = try c.allReduceSum(rank == 0 ? [1] : [1, 2], kind: .norm) } catch { errors.append(error as! CollectiveError) }
            do { _ = try c.allReduceSum([1], kind: .norm) } catch { errors.append(error as! CollectiveError) }
            do { _ = try c.haloRows(Tensor(zeros: [1, 1, 2, 2]), above: 1, below: 1) } catch { errors.append(error as! CollectiveError) }
            XCTAssertNotNil(c.failureReason)
            return errors
        }
        for (rank, result) in results.enumerated() {
            let errors = try XCTUnwrap(result).get()
            XCTAssertEqual(errors.count, 3)
            switch errors.first {
            case .mismatch(let other, let expected, let got)?:
                XCTAssertEqual(other, 1 - rank)
                XCTAssertTrue(expected.contains("allReduce") && got.contains("allReduce"), "\(expected) / \(got)")
                XCTAssertNotEqual(expected, got)
            case .peerLost?:
                break
            default:
                XCTFail("rank \(rank): \(errors)")
            }
            for e in errors.dropFirst() {
                guard case .broken = e else { return XCTFail("rank \(rank): expected broken, got \(e)") }
            }
        }
    }

    func testSilenceBeyondTheCallTimeoutThrowsTimeout() throws {
        let group = try LoopbackGroup(size: 2)
        let start = Date()
        let results = group.run(configuration: .init(callTimeout: 0.5)) { rank, c in
            if rank == 1 { Thread.sleep(forTimeInterval: 2.5) }  // a slow member: computes long between calls
            _ = try c.allReduceSum([1], kind: .norm)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        guard case .timeout(let rank, let seconds, let what)? = collectiveError(results[0]) else {
            return XCTFail("\(String(describing: results[0]))")
        }
        XCTAssertEqual(rank, 1)
        XCTAssertEqual(seconds, 0.5)
        XCTAssertTrue(what.contains("call 1 allReduce norm from rank 1"), what)
        // The slow member finds the group broken (its peer timed out and closed).
        XCTAssertTrue(isLostOrBroken(collectiveError(results[1])), "\(String(describing: results[1]))")
    }
}
