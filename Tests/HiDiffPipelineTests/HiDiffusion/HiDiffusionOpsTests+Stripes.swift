import HiDiffCore
import HiDiffModels
import HiDiffPipeline
import HiDiffTestSupport
import XCTest

/// MSW-MSA on stripes fetches only the rows of the window rows its queries fall in, and equals the
/// whole-map computation.
extension HiDiffusionOpsTests {
    /// The rows `mapRows(ofWindowRow:)` names are exactly those `partition` puts in that window row's windows.
    func testWindowRowsAreTheRowsThePartitionPutsInThem() {
        for (h, w) in [(8, 8), (16, 6), (20, 12), (26, 10), (64, 4)] {
            // Each token holds its map row.
            let rows = Tensor(shape: [1, h * w, 1], data: (0..<(h * w)).map { Float($0 / w) })
            for q in 0...3 {
                let grid = WindowPartition(height: h, width: w, bucket: q)
                let windows = grid.partition(rows)
                let per = grid.windowHeight * grid.windowWidth
                for t in 0...1 {
                    let seen = Set((2 * t..<(2 * t + 2)).flatMap { Array(windows.data[($0 * per)..<(($0 + 1) * per)]) }
                        .map { Int($0) })
                    XCTAssertEqual(seen, Set(grid.mapRows(ofWindowRow: t).joined()), "\(h)x\(w) q=\(q) t=\(t)")
                    XCTAssertEqual(grid.mapRows(ofWindowRow: t).reduce(0) { $0 + $1.count }, h / 2)
                    for m in grid.mapRows(ofWindowRow: t).joined() { XCTAssertEqual(grid.windowRow(ofMapRow: m), t) }
                }
            }
        }
    }

    func testStripesFetchOnlyTheirWindowRowsAndEqualTheWholeMap() throws {
        let unet = try Self.unet("sd15")
        let ops = try fixtures()
        let c = try XCTUnwrap(cases(ops.1, "msw").first { ($0["model"] as! String) == "sd15" })
        let block = try XCTUnwrap(Self.block(in: unet, path: c["block"] as! String))
        let context = try ops.0.load("\(c["name"] as! String).context")
        let channels = try ops.0.load("\(c["name"] as! String).x").dim(2)
        var g = SplitMix(seed: 51)
        var fetchedFewer = 0
        for (h, w) in [(16, 6), (20, 4), (24, 8)] {
            let x = g.tensor([2, h * w, channels])
            for q in 0...3 {
                let window = WindowAttention(family: .sd, shift: .fixed(q))
                let whole = try block(x, height: h, width: w, context: context,
                                      call: UNetCallContext(collective: SingleShard(), selfAttentionOverride: window.override))
                let grid = WindowPartition(height: h, width: w, bucket: q)
                // Even and uneven stripes, borders on and off the window rows' borders.
                for rows in [[h / 2, h / 2], [5, h - 5], [h / 4, h / 4, h / 2], [3, 4, 5, h - 12]] {
                    let starts = rows.indices.map { rows[..<$0].reduce(0, +) }
                    let fetched = LockedBox<[Int]>(Array(repeating: -1, count: rows.count))
                    let outs = try LocalGroup(size: rows.count).run { rank, local -> Tensor in
                        let counting = FetchCounting(local) { n in fetched.withValue { $0[rank] = n } }
                        let mine = x.slice(axis: 1, (starts[rank] * w)..<((starts[rank] + rows[rank]) * w))
                        return try block(mine, height: rows[rank], width: w, context: context,
                                         call: UNetCallContext(collective: counting,
                                                               selfAttentionOverride: window.override))
                    }
                    let y = Tensor.concat(outs, axis: 1)
                    XCTAssertLessThanOrEqual(relativeError(y, whole), 1e-5, "\(h)x\(w) q=\(q) stripes \(rows)")
                    for (rank, n) in fetched.current.enumerated() {
                        // Half the map for a stripe inside one window row, all of it for one that straddles both.
                        let windowRows = Set((starts[rank]..<(starts[rank] + rows[rank])).map(grid.windowRow(ofMapRow:)))
                        XCTAssertEqual(n, windowRows.count * h / 2, "\(h)x\(w) q=\(q) stripes \(rows) rank \(rank)")
                        if n < h { fetchedFewer += 1 }
                    }
                }
            }
        }
        XCTAssertGreaterThan(fetchedFewer, 50, "most stripes should hold half the map")
    }
}

/// A member's collective that reports the rows each `fetchRows` call returns.
private final class FetchCounting: Collective, @unchecked Sendable {
    let base: any Collective
    let report: (Int) -> Void
    init(_ base: any Collective, report: @escaping (Int) -> Void) {
        self.base = base
        self.report = report
    }
    var rank: Int { base.rank }
    var size: Int { base.size }
    func exchangeRows(_ x: Tensor, sendUp: Int, sendDown: Int, receiveAbove: Int,
                      receiveBelow: Int) throws -> (above: Tensor, below: Tensor) {
        try base.exchangeRows(x, sendUp: sendUp, sendDown: sendDown, receiveAbove: receiveAbove, receiveBelow: receiveBelow)
    }
    func allReduceSum(_ values: [Double], kind: CollectiveKind) throws -> [Double] {
        try base.allReduceSum(values, kind: kind)
    }
    func allGather(_ x: Tensor, axis: Int, kind: CollectiveKind) throws -> Tensor {
        try base.allGather(x, axis: axis, kind: kind)
    }
    func fetchRows(_ x: Tensor, axis: Int, plan: RowFetchPlan, kind: CollectiveKind) throws -> Tensor {
        report(plan.neededCount(rank))
        return try base.fetchRows(x, axis: axis, plan: plan, kind: kind)
    }
}
