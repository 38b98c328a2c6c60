extension Tensor {
    /// `upsampleNearest` on this rank's stripe: `height` is this stripe's share of the output rows. The
    /// source rows come from the whole map's index rule, so the stripes equal the whole-map resize even when
    /// the scale is not an integer (a source row may then sit in a neighbour's stripe).
    public func upsampleNearest(height: Int, width: Int, collective: any Collective) throws -> Tensor {
        if collective.size == 1 { return upsampleNearest(height: height, width: width) }
        let columns = Tensor.nearestIndices(input: dim(3), output: width)
        return try resampledRows(outputRows: height, collective: collective,
                                 taps: { Tensor.nearestIndices(input: $0, output: $1).map { [$0] } }) { local, rows, _ in
            local.upsampleNearest(rows: rows.map { $0[0] }, columns: columns)
        }
    }

    /// `resizeBicubic` on this rank's stripe (RAU-Net's restore): `height` is this stripe's share of the
    /// output rows; the taps are the whole map's, clamped at the global border.
    public func resizeBicubic(height: Int, width: Int, collective: any Collective) throws -> Tensor {
        if collective.size == 1 { return resizeBicubic(height: height, width: width) }
        let columns = Tensor.cubicTaps(input: dim(3), output: width)
        var weights: [[Float]] = []
        return try resampledRows(outputRows: height, collective: collective, taps: { input, output in
            let taps = Tensor.cubicTaps(input: input, output: output)
            weights = taps.map(\.1)
            return taps.map(\.0)
        }) { local, rows, global in
            local.resizeBicubic(rows: zip(rows, weights[global]).map { ($0, $1) }, columns: columns)
        }
    }

    /// `avgPool2x2CeilMode` on a stripe: local, because every stripe but the last starts and ends on an even
    /// row, so no 2x2 window crosses a stripe border.
    public func avgPool2x2CeilMode(collective: any Collective) throws -> Tensor {
        if collective.rank < collective.size - 1, dim(2) % 2 != 0 {
            throw CollectiveError.invalidStripe(reason: "stripe \(collective.rank) has \(dim(2)) rows; RAU-Net's 2x2 pool needs an even count")
        }
        return avgPool2x2CeilMode()
    }

    /// Shared by the striped resizes: learns every stripe's input and output rows, works out which source
    /// rows each stripe's outputs read (`taps(globalIn, globalOut)` gives each output row's source rows),
    /// exchanges exactly those beyond each stripe with its neighbours, and resamples the extended stripe
    /// with row indices made local. `apply` gets the extended stripe, its output rows' local source indices
    /// and those output rows' global range.
    private func resampledRows(outputRows: Int, collective: any Collective,
                               taps: (Int, Int) -> [[Int]],
                               apply: (Tensor, [[Int]], Range<Int>) -> Tensor) throws -> Tensor {
        let k = collective.size, me = collective.rank
        let geometry = try collective.allGather(Tensor(shape: [2], data: [Float(dim(2)), Float(outputRows)]),
                                                axis: 0, kind: .geometry).data.map { Int($0) }
        let inRows = (0..<k).map { geometry[2 * $0] }, outRows = (0..<k).map { geometry[2 * $0 + 1] }
        let inStart = (0..<k).map { inRows[..<$0].reduce(0, +) }
        let outStart = (0..<k).map { outRows[..<$0].reduce(0, +) }
        let all = taps(inRows.reduce(0, +), outRows.reduce(0, +))
        // Rows each stripe needs from above and below its own input rows.
        func needs(_ r: Int) -> (above: Int, below: Int) {
            let used = all[outStart[r]..<(outStart[r] + outRows[r])].flatMap { $0 }
            guard let lo = used.min(), let hi = used.max() else { return (0, 0) }
            return (max(0, inStart[r] - lo), max(0, hi - (inStart[r] + inRows[r] - 1)))
        }
        let mine = needs(me)
        let sendUp = me > 0 ? needs(me - 1).below : 0
        let sendDown = me + 1 < k ? needs(me + 1).above : 0
        for (r, n) in (0..<k).map({ ($0, needs($0)) }) {
            if (r > 0 && n.above > inRows[r - 1]) || (r + 1 < k && n.below > inRows[r + 1]) {
                throw CollectiveError.invalidStripe(reason: "stripe \(r) of a resize needs rows beyond its neighbours' stripes")
            }
        }
        var extended = self
        if (0..<k).contains(where: { needs($0) != (0, 0) }) {
            let halo = try collective.exchangeRows(self, sendUp: sendUp, sendDown: sendDown,
                                                   receiveAbove: mine.above, receiveBelow: mine.below)
            extended = Tensor.concat([halo.above, self, halo.below], axis: 2)
        }
        let origin = inStart[me] - mine.above
        let range = outStart[me]..<(outStart[me] + outRows[me])
        return apply(extended, all[range].map { $0.map { $0 - origin } }, range)
    }
}
