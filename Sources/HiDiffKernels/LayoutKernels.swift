// Data movement over raw pointers: transposes (NCHW <-> tokens), im2col, per-plane bias. Compiled with
// -Ounchecked: with overflow checks on their index arithmetic the copy loops do not vectorise and run
// 1.5-1.6x slower (`hidiff bench ops`). Callers check every size first.

/// out[b][j][i] = src[b][i][j] for `batch` row-major `rows` x `cols` matrices, in 32 x 32 tiles split over
/// the cores. Each tile is first copied row by row into a small buffer: reading it column-wise straight from
/// the source would touch 32 lines a row stride apart, which for power-of-two widths all alias one L1 set.
public func transposeBatched(_ src: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, batch: Int, rows: Int,
                      cols: Int) {
    forEachTransposeTile(src, batch: batch, rows: rows, cols: cols, scratch: 0) { buf, _, outOffset, h, w in
        for j in 0..<w {
            let dst = out + outOffset + j * rows
            for i in 0..<h { dst[i] = buf[i * transposeTile + j] }
        }
    }
}

/// `transposeBatched` with the output rounded to bfloat16 (`bfloat16Bits`): NCHW float32 maps to NHWC
/// bfloat16 in one pass. Each tile is transposed in a second float32 buffer and each of its rows rounded by
/// the vector conversion.
public func transposeBatchedToBFloat16(_ src: UnsafePointer<Float>, _ out: UnsafeMutablePointer<UInt16>, batch: Int,
                                       rows: Int, cols: Int) {
    forEachTransposeTile(src, batch: batch, rows: rows, cols: cols, scratch: transposeTile * transposeTile) {
        buf, turned, outOffset, h, w in
        for j in 0..<w {
            for i in 0..<h { turned[j * transposeTile + i] = buf[i * transposeTile + j] }
        }
        for j in 0..<w { convertToBFloat16(turned + j * transposeTile, out + outOffset + j * rows, count: h) }
    }
}

/// The side of the transposes' tiles.
@usableFromInline let transposeTile = 32

/// The transposes' walk: tasks of one tile row of one matrix, split over the cores; each tile (h x w, at
/// most 32 x 32) copied into a buffer of 32-float rows, then handed to `store` with `scratch` more floats and
/// the offset of its first element in the transposed output (row j of the tile goes `rows` further on).
@inline(__always)
func forEachTransposeTile(_ src: UnsafePointer<Float>, batch: Int, rows: Int, cols: Int, scratch: Int,
                          _ store: (_ buf: UnsafePointer<Float>, _ scratch: UnsafeMutablePointer<Float>,
                                    _ outOffset: Int, _ h: Int, _ w: Int) -> Void) {
    let tile = transposeTile
    let tileRows = (rows + tile - 1) / tile, tileCols = (cols + tile - 1) / tile
    let tasks = batch * tileRows
    parallelRanges(tasks, minChunk: max(1, (1 << 15) / max(tile * cols, 1))) { range in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: tile * tile + scratch) { buffer in
            let buf = buffer.baseAddress!
            for task in range {
                let b = task / tileRows, i0 = (task % tileRows) * tile
                let s = src + b * rows * cols
                let h = min(rows, i0 + tile) - i0
                for tj in 0..<tileCols {
                    let j0 = tj * tile, w = min(cols, j0 + tile) - j0
                    for i in 0..<h { (buf + i * tile).update(from: s + (i0 + i) * cols + j0, count: w) }
                    store(buf, buf + tile * tile, b * rows * cols + j0 * rows + i0, h, w)
                }
            }
        }
    }
}

/// Fills col[(ci*kh + i)*kw + j][r*wo + ox] with x[ci][ (y0+r)*s - padTop + i*d ][ ox*s - padLeft + j*d ],
/// for float32 maps or bfloat16 ones (bit patterns: zero is 0 in both).
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == UInt16)
public func im2col<T: Im2colElement>(_ x: UnsafePointer<T>, c: Int, h: Int, w: Int, kh: Int, kw: Int,
                                                  s: Int, d: Int, padTop: Int, padLeft: Int, y0: Int, rows: Int,
                                                  wo: Int, into col: UnsafeMutablePointer<T>) {
    let cols = rows * wo
    parallelRanges(c * kh * kw, minChunk: max(1, (1 << 14) / max(cols, 1))) { range in
        for kr in range {
            let j = kr % kw, i = (kr / kw) % kh, ci = kr / (kw * kh)
            let plane = x + ci * h * w
            let dstRow = col + kr * cols
            // Output columns whose input column lies inside the image: ox in [oxLo, oxHi).
            let offX = j * d - padLeft
            let oxLo = offX >= 0 ? 0 : min(wo, (-offX + s - 1) / s)
            let oxHi = max(oxLo, min(wo, (w - 1 - offX) >= 0 ? (w - 1 - offX) / s + 1 : 0))
            for r in 0..<rows {
                let iy = (y0 + r) * s - padTop + i * d
                let dst = dstRow + r * wo
                if iy < 0 || iy >= h {
                    dst.update(repeating: .zero, count: wo)
                    continue
                }
                let line = plane + iy * w + offX
                if oxLo > 0 { dst.update(repeating: .zero, count: oxLo) }
                if s == 1 {
                    (dst + oxLo).update(from: line + oxLo, count: oxHi - oxLo)
                } else {
                    for ox in oxLo..<oxHi { dst[ox] = line[ox * s] }
                }
                if oxHi < wo { (dst + oxHi).update(repeating: .zero, count: wo - oxHi) }
            }
        }
    }
}

/// o[p * inner + i] = s[p * inner + i] + bias[perPlane ? p : p % channels] for `planes` planes of `inner` floats.
public func addPlaneBias(_ s: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, planes: Int, inner: Int,
                         bias: UnsafePointer<Float>, channels: Int, perPlane: Bool) {
    parallelRanges(planes, minChunk: max(1, (1 << 15) / max(inner, 1))) { r in
        for p in r {
            let b = perPlane ? bias[p] : bias[p % channels]
            let base = p * inner
            for i in 0..<inner { o[base + i] = s[base + i] + b }
        }
    }
}

/// An element type `im2col` can lay out: float32 values or bfloat16 bit patterns, whose `.zero` is the
/// number zero.
public protocol Im2colElement: AdditiveArithmetic, BitwiseCopyable {}
extension Float: Im2colElement {}
extension UInt16: Im2colElement {}
