import HiDiffCore
import HiDiffGroup
import HiDiffTestSupport
import XCTest

/// The routing of `fetchRows`, without sockets: what arrives on each link is what the neighbour sends and
/// passes on; every rank gets every row it needs from every other rank once, the short way round; no row
/// crosses a link twice.
final class RowRoutesTests: XCTestCase {
    func testEveryRankGetsItsRowsOnceTheShortWayInTheOrderItsNeighbourSendsThem() {
        var g = SplitMix(seed: 41)
        for trial in 0..<300 {
            let size = 2 + trial % 7
            let plan = RowFetchPlan.random(size: size, using: &g)
            let routes = RowRoutes(plan: plan)
            for rank in 0..<size {
                var reached: Set<Int> = []  // origins whose message reaches this rank
                for direction in RowRoutes.Direction.allCases {
                    // The neighbour these come from: its own message first, then those it passes on, in the order
                    // it received them.
                    let from = routes.rank(1, from: rank, direction == .down ? .up : .down)
                    let expected = [routes.message(from: from, direction)].compactMap { $0 }
                        + routes.arrivals(at: from, direction).filter { routes.forwards($0, at: from) }
                    let arriving = routes.arrivals(at: rank, direction)
                    XCTAssertEqual(arriving, expected, "\(plan) rank \(rank) \(direction)")
                    for m in arriving {
                        XCTAssertTrue(reached.insert(m.origin).inserted, "\(plan): rank \(rank) reached twice by \(m.origin)")
                        XCTAssertEqual(routes.direction(from: m.origin, to: rank), direction)
                    }
                }
                for origin in 0..<size where origin != rank && plan.rowCount(from: origin, to: rank) > 0 {
                    // Reached, and the message carries every row this rank needs from its origin.
                    XCTAssertTrue(reached.contains(origin), "\(plan): rank \(rank) never gets rank \(origin)'s rows")
                    let m = routes.message(from: origin, routes.direction(from: origin, to: rank))!
                    for r in plan.rows(from: origin, to: rank) {
                        XCTAssertTrue(m.rows.contains { $0.lowerBound <= r.lowerBound && r.upperBound <= $0.upperBound })
                    }
                    XCTAssertGreaterThanOrEqual(m.reach, routes.hops(from: origin, to: rank))
                }
            }
            // A message goes no farther than its farthest needer, and carries only rows someone on its side needs.
            for origin in 0..<size {
                for direction in RowRoutes.Direction.allCases {
                    guard let m = routes.message(from: origin, direction) else { continue }
                    XCTAssertLessThanOrEqual(m.reach, size / 2)
                    let needed = (1...m.reach).map { routes.rank($0, from: origin, direction) }
                        .flatMap { plan.rows(from: origin, to: $0) }
                    XCTAssertEqual(m.rows, RowFetchPlan.merged(needed), "\(plan) origin \(origin) \(direction)")
                    XCTAssertGreaterThan(plan.rowCount(from: origin, to: routes.rank(m.reach, from: origin, direction)), 0)
                }
            }
        }
    }

    func testNothingTravelsWhenEveryRankNeedsOnlyItsOwnRows() throws {
        let routes = RowRoutes(plan: try RowFetchPlan(stripeRows: [2, 3, 2], needs: [[0..<2], [3..<4], []]))
        for rank in 0..<3 {
            for direction in RowRoutes.Direction.allCases {
                XCTAssertNil(routes.message(from: rank, direction))
                XCTAssertEqual(routes.arrivals(at: rank, direction), [])
            }
        }
    }
}
