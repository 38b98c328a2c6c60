import HiDiffCore

extension RowFetchPlan {
    /// A plan for `size` stripes of 1...4 rows (some 0 when `allowEmpty`), where each rank needs 0...3 random
    /// ranges of the map, own rows and wrapped-around halves included: the shapes window attention asks for
    /// and worse.
    public static func random(size: Int, using g: inout SplitMix) -> RowFetchPlan {
        let rows = (0..<size).map { _ in g.int(in: 1..<5) }
        let height = rows.reduce(0, +)
        let needs = (0..<size).map { _ -> [Range<Int>] in
            (0..<g.int(in: 0..<4)).map { _ in
                let a = g.int(in: 0..<height), b = g.int(in: 0..<height)
                return min(a, b)..<(max(a, b) + 1)
            }
        }
        return try! RowFetchPlan(stripeRows: rows, needs: needs)
    }
}
