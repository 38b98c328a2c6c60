import HiDiffCore
import HiDiffTestSupport
import XCTest

/// `RowFetchPlan` and `fetchRows` through `LocalGroup`: every rank gets exactly the whole map's rows it needs.
final class RowFetchPlanTests: XCTestCase {
    func testNeedsAreSortedAndMergedAndSendersSendOnlyTheirRows() throws {
        let plan = try RowFetchPlan(stripeRows: [3, 2, 4], needs: [[6..<8, 0..<2, 1..<4], [], [4..<5, 3..<4, 8..<9]])
        XCTAssertEqual(plan.stripes, [0..<3, 3..<5, 5..<9])
        XCTAssertEqual(plan.needs, [[0..<4, 6..<8], [], [3..<5, 8..<9]])
        XCTAssertEqual(plan.rows(from: 1, to: 0), [3..<4])
        XCTAssertEqual(plan.rows(from: 2, to: 0), [6..<8])
        XCTAssertEqual(plan.rows(from: 0, to: 0), [], "own rows are not sent")
        XCTAssertEqual(plan.rows(from: 1, to: 2), [3..<5])
        XCTAssertEqual(plan.rowCount(from: 0, to: 2), 0)
        XCTAssertEqual(plan.neededCount(0), 6)
        XCTAssertEqual(plan.height, 9)
    }

    func testRowsOutsideTheMapAreRefused() {
        XCTAssertThrowsError(try RowFetchPlan(stripeRows: [2, 2], needs: [[0..<5], []])) { error in
            XCTAssertEqual(error as? CollectiveError, .invalidStripe(reason: "rank 0 needs rows 0..<5 of a map of 4 rows"))
        }
        XCTAssertThrowsError(try RowFetchPlan(stripeRows: [2, 2], needs: [[]]))
    }

    func testFetchedRowsEqualTheWholeMapsRows() throws {
        var g = SplitMix(seed: 31)
        for trial in 0..<60 {
            let size = 1 + trial % 5
            let plan = RowFetchPlan.random(size: size, using: &g)
            let map = g.tensor([2, plan.height, 3])
            let fetched = try LocalGroup(size: size).run { rank, c in
                try c.fetchRows(map.slice(axis: 1, plan.stripes[rank]), axis: 1, plan: plan, kind: .attention)
            }
            for rank in 0..<size {
                let expected = plan.needs[rank].isEmpty ? Tensor(shape: [2, 0, 3], data: [])
                    : Tensor.concat(plan.needs[rank].map { map.slice(axis: 1, $0) }, axis: 1)
                XCTAssertEqual(fetched[rank].shape, expected.shape, "\(plan) rank \(rank)")
                XCTAssertEqual(fetched[rank].data, expected.data, "\(plan) rank \(rank)")
            }
        }
    }

    func testMembersWithDifferentPlansOrStripesFailWithoutHanging() throws {
        let a = try RowFetchPlan(stripeRows: [2, 2], needs: [[0..<4], []])
        let b = try RowFetchPlan(stripeRows: [2, 2], needs: [[0..<3], []])
        XCTAssertThrowsError(try LocalGroup(size: 2).run { rank, c in
            try c.fetchRows(Tensor(zeros: [1, 2, 1]), axis: 1, plan: rank == 0 ? a : b, kind: .attention)
        }) { error in
            guard case CollectiveError.mismatch = error else { return XCTFail("\(error)") }
        }
        // A stripe that does not hold the plan's rows breaks the group instead of sending a wrong block.
        XCTAssertThrowsError(try LocalGroup(size: 2).run { rank, c in
            try c.fetchRows(Tensor(zeros: [1, rank == 0 ? 3 : 2, 1]), axis: 1, plan: a, kind: .attention)
        }) { error in
            guard case CollectiveError.invalidStripe = error else { return XCTFail("\(error)") }
        }
    }
}
