import HiDiffStore
import XCTest

/// The coordinator's counts for /metrics: each scrape takes what was added since the last one.
final class CoordinatorCountersTests: XCTestCase {
    func testTakeReturnsWhatWasAddedSinceTheLastTake() {
        let counters = CoordinatorCounters()
        counters.rejectedConnection()
        counters.rejectedConnection()
        counters.recordedStep(seconds: 0.002)
        counters.recordedStep(seconds: 0.004)
        XCTAssertEqual(counters.take(), .init(rejectedConnections: 2, stepSeconds: [0.002, 0.004], droppedSteps: 0))
        XCTAssertEqual(counters.take(), .init(), "a second scrape finds nothing new")
        counters.recordedStep(seconds: 0.001)
        XCTAssertEqual(counters.take().stepSeconds, [0.001])
    }

    func testStepTimingsBetweenScrapesAreBoundedAndTheRestCounted() {
        let counters = CoordinatorCounters()
        for _ in 0..<(CoordinatorCounters.pendingLimit + 10) { counters.recordedStep(seconds: 0.001) }
        let counts = counters.take()
        XCTAssertEqual(counts.stepSeconds.count, CoordinatorCounters.pendingLimit)
        XCTAssertEqual(counts.droppedSteps, 10)
    }
}
