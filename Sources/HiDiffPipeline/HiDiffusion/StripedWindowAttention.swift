import HiDiffCore
import HiDiffModels

/// MSW-MSA on one rank's stripe: the rank computes attention only for its own query rows, each against the
/// whole window it falls in after the roll, so the attention work is split K ways instead of repeated on
/// every rank. The keys and values still come from the gathered token map (a window spans half the map).
///
/// Exactly the windows `WindowPartition` makes (same roll, same halves); each query row's attention is the
/// same computation as in the whole-map call, only batched differently.
struct StripedWindowAttention {
    let grid: WindowPartition
    /// This stripe's first row and row count in the whole map.
    let rowOffset: Int
    let rows: Int

    /// `map`: the gathered tokens [B, H * W, C] of the whole map; returns this stripe's output [B, rows * W, C].
    func callAsFunction(_ map: Tensor, attention: CrossAttention) -> Tensor {
        let (b, c) = (map.dim(0), map.dim(2))
        let (h, w) = (grid.height, grid.width)
        let (wh, ww) = (grid.windowHeight, grid.windowWidth)
        let (sh, sw) = grid.rolls ? (grid.shiftHeight, grid.shiftWidth) : (0, 0)
        // rolled[i][j] = map[(i + sh) mod H][(j + sw) mod W]; this stripe's row m sits at rolled row (m - sh) mod H.
        let mine = (rowOffset..<(rowOffset + rows)).map { (($0 - sh) % h + h) % h }
        var output = [Float](repeating: 0, count: b * rows * w * c)
        map.data.withUnsafeBufferPointer { src in
            for t in 0..<2 {
                // (position in this stripe, rolled row) for the stripe's rows in window row t
                let queryRows = mine.enumerated().filter { $0.element / wh == t }
                if queryRows.isEmpty { continue }
                for u in 0..<2 {
                    let window = gather(src, b: b, c: c, w: w, sh: sh, sw: sw, rows: Array((t * wh)..<((t + 1) * wh)),
                                        columns: (u * ww)..<((u + 1) * ww))
                    let queries = gather(src, b: b, c: c, w: w, sh: sh, sw: sw, rows: queryRows.map(\.element),
                                         columns: (u * ww)..<((u + 1) * ww))
                    let out = attention(queries, context: window)
                    // Scatter back: rolled column j of a row is map column (j + sw) mod W.
                    out.data.withUnsafeBufferPointer { o in
                        for n in 0..<b {
                            for (q, (position, _)) in queryRows.enumerated() {
                                for x in 0..<ww {
                                    let column = (u * ww + x + sw) % w
                                    let from = ((n * queryRows.count + q) * ww + x) * c
                                    let to = ((n * rows + position) * w + column) * c
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

    /// Rolled rows `rows` and rolled columns `columns` of the [B, H * W, C] map as [B, rows * columns, C].
    private func gather(_ src: UnsafeBufferPointer<Float>, b: Int, c: Int, w: Int, sh: Int, sw: Int, rows: [Int],
                        columns: Range<Int>) -> Tensor {
        let h = grid.height
        let count = b * rows.count * columns.count * c
        return Tensor(shape: [b, rows.count * columns.count, c], unsafeUninitialized: { dst in
            var i = 0
            for n in 0..<b {
                for r in rows {
                    let m = (r + sh) % h
                    for j in columns {
                        let from = ((n * h + m) * w + (j + sw) % w) * c
                        for k in 0..<c { dst[i + k] = src[from + k] }
                        i += c
                    }
                }
            }
            precondition(i == count)
        })
    }
}
