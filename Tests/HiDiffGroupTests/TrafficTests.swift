import HiDiffCore
import HiDiffGroup
import HiDiffProtocol
import HiDiffTestSupport
import XCTest

/// The byte counters a benchmark reads: element bytes by kind, sent and received, forwarding included.
final class TrafficTests: XCTestCase {
    func testCountersEqualTheElementBytesOfAKnownExchange() throws {
        for chunkBytes in [PeerData.maxChunkBytes, 64] {
            let group = try LoopbackGroup(size: 3)
            let traffic = try group.values(configuration: .init(callTimeout: 5, chunkBytes: chunkBytes)) { rank, c in
                let stripe = Tensor(zeros: [1, 2, 4, 5])                 // a row is 2 * 5 floats = 40 bytes
                _ = try c.haloRows(stripe, above: 1, below: 1)
                _ = try c.exchangeRows(stripe, sendUp: 0, sendDown: 0, receiveAbove: 0, receiveBelow: 0)
                _ = try c.allReduceSum([1, 2, 3], kind: .norm)            // 24 bytes per member
                _ = try c.allGather(stripe, axis: 2, kind: .attention)     // 160 bytes per member
                return c.traffic
            }
            // Rows: the top and bottom members have one neighbour, the middle one two.
            XCTAssertEqual(traffic.map { $0.bytesSent[CollectiveKind.halo] }, [40, 80, 40])
            XCTAssertEqual(traffic.map { $0.bytesReceived[CollectiveKind.halo] }, [40, 80, 40])
            // Ring: every member sends its own block and forwards one, and receives the two others.
            for t in traffic {
                XCTAssertEqual(t.bytesSent[.norm], 48)
                XCTAssertEqual(t.bytesReceived[.norm], 48)
                XCTAssertEqual(t.bytesSent[.attention], 320)
                XCTAssertEqual(t.bytesReceived[.attention], 320)
                XCTAssertNil(t.bytesSent[.latent])
                XCTAssertEqual(t.totalBytesSent, t.bytesSent[.halo]! + 48 + 320)
            }
            // Messages: one per neighbour per exchange (two exchanges, empty rows included), one per ring block,
            // unless a block is split into chunks (160 bytes in 64-byte chunks: 3).
            let blockMessages = chunkBytes == 64 ? 3 : 1
            XCTAssertEqual(traffic.map { $0.messagesSent[CollectiveKind.halo] }, [2, 4, 2])
            XCTAssertEqual(traffic.map { $0.messagesReceived[CollectiveKind.halo] }, [2, 4, 2])
            for t in traffic {
                XCTAssertEqual(t.messagesSent[.norm], 2)
                XCTAssertEqual(t.messagesSent[.attention], 2 * blockMessages)
                XCTAssertEqual(t.messagesReceived[.attention], 2 * blockMessages)
            }
        }
    }

    /// `fetchRows` sends rows the short way round, at most once over each link; each link a message crosses
    /// counts it once as sent by the member that puts it on the link (owner or forwarder) and once as received.
    func testFetchRowsSendsEachBlockOnceOverEachLinkOfItsRoute() throws {
        // 5 stripes of 2 rows; a row is 3 floats = 12 bytes.
        let plan = try RowFetchPlan(stripeRows: [2, 2, 2, 2, 2], needs: [[0..<4, 8..<9], [0..<2], [], [], [0..<2]])
        let traffic = try LoopbackGroup(size: 5).values { rank, c in
            _ = try c.fetchRows(Tensor(zeros: [1, 2, 3]), axis: 1, plan: plan, kind: .attention)
            return c.traffic
        }
        // Blocks: 1 -> 0 (2 rows, 1 hop up), 4 -> 0 (1 row, 1 hop down, wrapping), 0 -> 1 (2 rows, 1 hop down),
        // 0 -> 4 (2 rows, 1 hop up); none needs forwarding here.
        XCTAssertEqual(traffic.map { $0.bytesSent[CollectiveKind.attention] ?? 0 }, [48, 24, 0, 0, 12])
        XCTAssertEqual(traffic.map { $0.bytesReceived[CollectiveKind.attention] ?? 0 }, [36, 24, 0, 0, 24])
        // Rank 3 needs rank 0's rows: 2 hops (through rank 4, which counts them as sent and received too).
        let far = try RowFetchPlan(stripeRows: [2, 2, 2, 2, 2], needs: [[], [], [], [0..<2], []])
        let forwarded = try LoopbackGroup(size: 5).values { rank, c in
            _ = try c.fetchRows(Tensor(zeros: [1, 2, 3]), axis: 1, plan: far, kind: .attention)
            return c.traffic
        }
        XCTAssertEqual(forwarded.map { $0.bytesSent[CollectiveKind.attention] ?? 0 }, [24, 0, 0, 0, 24])
        XCTAssertEqual(forwarded.map { $0.bytesReceived[CollectiveKind.attention] ?? 0 }, [0, 0, 0, 24, 24])
        // Ranks 1 and 2 need rank 0's rows: one message, kept by rank 1 and passed on to rank 2, not two.
        let shared = try RowFetchPlan(stripeRows: [2, 2, 2, 2, 2], needs: [[], [0..<2], [0..<2], [], []])
        let once = try LoopbackGroup(size: 5).values { rank, c in
            _ = try c.fetchRows(Tensor(zeros: [1, 2, 3]), axis: 1, plan: shared, kind: .attention)
            return c.traffic
        }
        XCTAssertEqual(once.map { $0.bytesSent[CollectiveKind.attention] ?? 0 }, [24, 24, 0, 0, 0])
        XCTAssertEqual(once.map { $0.bytesReceived[CollectiveKind.attention] ?? 0 }, [0, 24, 24, 0, 0])
    }
}
