import HiDiffCore
import HiDiffModels

/// MSW-MSA on one rank's stripe: the rank computes attention only for its own query rows, each against the
/// whole window it falls in after the roll, so the attention work is split K ways instead of repeated on
/// every rank. It reads only the map rows of the window rows its queries fall in (`rowsHeld`, fetched with
/// `WindowPartition.rowsNeeded(byStripe:)`): half the map, or all of it for a stripe that straddles both.
///
/// Exactly the windows `WindowPartition` makes (same roll, same halves); each query row's attention is the
/// same computation as in the whole-map call, only batched differently.
struct StripedWindowAttention {
    let grid: WindowPartition
    /// This stripe's first row and row count in the whole map.
    let rowOffset: Int
    let rows: Int
    /// The map rows `map` holds, in order.
    let rowsHeld: [Range<Int>]

    /// `map`: the held rows' tokens [B, held rows * W, C]; returns this stripe's output [B, rows * W, C].
    func callAsFunction(_ map: Tensor, attention: CrossAttention) -> Tensor {
        let (b, c) = (map.dim(0), map.dim(2))
        let (h, w) = (grid.height, grid.width)
        let (wh, ww) = (grid.windowHeight, grid.windowWidth)
        let (sh, sw) = grid.rolls ? (grid.shiftHeight, grid.shiftWidth) : (0, 0)
        // Where each map row sits in `map` (-1: not held).
        var position = [Int](repeating: -1, count: h)
        for (i, m) in rowsHeld.joined().enumerated() { position[m] = i }
        let held = position.filter { $0 >= 0 }.count
        precondition(map.dim(1) == held * w, "window attention holds \(held) rows of width \(w), got \(map.shape)")
        // rolled[i][j] = map[(i + sh) mod H][(j + sw) mod W]; this stripe's row m sits at rolled row (m - sh) mod H.
        let mine = (rowOffset..<(rowOffset + rows)).map { (($0 - sh) % h + h) % h }
        var output = [Float](repeating: 0, count: b * rows * w * c)
        map.data.withUnsafeBufferPointer { src in
            for t in 0..<2 {
                // (position in this stripe, rolled row) for the stripe's rows in window row t
                let queryRows = mine.enumerated().filter { $0.element / wh == t }
                if queryRows.isEmpty { continue }
                for u in 0..<2 {
                    let columns = (u * ww)..<((u + 1) * ww)
                    let source = Source(src: src, position: position, held: held, b: b, c: c, w: w, sh: sh, sw: sw)
                    let window = source.gather(rolledRows: Array((t * wh)..<((t + 1) * wh)), columns: columns)
                    let queries = source.gather(rolledRows: queryRows.map(\.element), columns: columns)
                    let out = attention(queries, context: window)
                    // Scatter back: rolled column j of a row is map column (j + sw) mod W.
                    out.data.withUnsafeBufferPointer { o in
                        for n in 0..<b {
                            for (q, (at, _)) in queryRows.enumerated() {
                                for x in 0..<ww {
                                    let column = (u * ww + x + sw) % w
                                    let from = ((n * queryRows.count + q) * ww + x) * c
                                    let to = ((n * rows + at) * w + column) * c
                                    for k in 0..<c { output[to + k] = o[from + k] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [b, rows * w, c], data: output)
    }

    /// The held map rows, read through the roll.
    private struct Source {
        let src: UnsafeBufferPointer<Float>
        let position: [Int]
        let held, b, c, w, sh, sw: Int

        /// Rolled rows `rolledRows` and rolled columns `columns` as [B, rows * columns, C].
        func gather(rolledRows: [Int], columns: Range<Int>) -> Tensor {
            let h = position.count
            let count = b * rolledRows.count * columns.count * c
            return Tensor(shape: [b, rolledRows.count * columns.count, c], unsafeUninitialized: { dst in
                var i = 0
                for n in 0..<b {
                    for r in rolledRows {
                        let m = position[(r + sh) % h]
                        precondition(m >= 0, "window attention reads map row \((r + sh) % h), which it does not hold")
                        for j in columns {
                            let from = ((n * held + m) * w + (j + sw) % w) * c
                            for k in 0..<c { dst[i + k] = src[from + k] }
                            i += c
                        }
                    }
                }
                precondition(i == count)
            })
        }
    }
}
