// The transforms of Winograd's F(2x2, 3x3) convolution (the GEMMs between them stay in HiDiffCore):
// pointer loops whose index arithmetic must vectorise, hence this module's -Ounchecked. Every size
// reaching them was checked by the convolution that calls them.

/// U[xi][o][c] = (G g G^T)[xi] for g = weight[o][c] (3x3), G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
public func winogradWeights(_ g: UnsafePointer<Float>, o: Int, c: Int, stride plane: Int,
                            into u: UnsafeMutablePointer<Float>) {
    parallelRanges(o * c, minChunk: 4096) { range in
        for p in range {
            let k = g + p * 9
            // Row i of G g G^T from row i of G g: (a, b, c) -> (a, (a+b+c)/2, (a-b+c)/2, c).
            @inline(__always) func put(_ i: Int, _ a: Float, _ b: Float, _ c: Float) {
                let q = u + 4 * i * plane + p
                q[0] = a
                q[plane] = 0.5 * (a + b + c)
                q[2 * plane] = 0.5 * (a - b + c)
                q[3 * plane] = c
            }
            let (g00, g01, g02) = (k[0], k[1], k[2])
            let (g10, g11, g12) = (k[3], k[4], k[5])
            let (g20, g21, g22) = (k[6], k[7], k[8])
            // Rows of G g: g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2.
            put(0, g00, g01, g02)
            put(1, 0.5 * (g00 + g10 + g20), 0.5 * (g01 + g11 + g21), 0.5 * (g02 + g12 + g22))
            put(2, 0.5 * (g00 - g10 + g20), 0.5 * (g01 - g11 + g21), 0.5 * (g02 - g12 + g22))
            put(3, g20, g21, g22)
        }
    }
}

/// V[xi][ci][t] = (B^T d B)[xi] for the 4x4 input patch d of tile t (zero outside the image),
/// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Split over the input channels.
public func winogradInput(_ x: UnsafePointer<Float>, _ g: WinogradGeometry, tiles: Range<Int>,
                          into v: UnsafeMutablePointer<Float>) {
    let tb = tiles.count
    let stride = g.vStride
    parallelRanges(g.c, minChunk: max(1, 4096 / max(tb, 1))) { channels in
        for ci in channels {
            for (local, t) in tiles.enumerated() {
                let b = t / g.tilesPerImage, r = t % g.tilesPerImage
                let y0 = (r / g.tilesX) * 2 - g.padTop, x0 = (r % g.tilesX) * 2 - g.padLeft
                let plane = x + (b * g.c + ci) * g.h * g.w
                let interior = y0 >= 0 && y0 + 4 <= g.h && x0 >= 0 && x0 + 4 <= g.w
                func row(_ i: Int) -> SIMD4<Float> {
                    let y = y0 + i
                    if interior {
                        let p = plane + y * g.w + x0
                        return SIMD4(p[0], p[1], p[2], p[3])
                    }
                    guard y >= 0 && y < g.h else { return .zero }
                    let p = plane + y * g.w
                    var s = SIMD4<Float>.zero
                    for j in 0..<4 where x0 + j >= 0 && x0 + j < g.w { s[j] = p[x0 + j] }
                    return s
                }
                let (d0, d1, d2, d3) = (row(0), row(1), row(2), row(3))
                // Rows: B^T d.
                let r0 = d0 - d2, r1 = d1 + d2, r2 = d2 - d1, r3 = d1 - d3
                let base = v + ci * tb + local
                // Columns: (B^T d) B, row i of it into V[4i ..< 4i + 4].
                func put(_ i: Int, _ rr: SIMD4<Float>) {
                    let q = base + 4 * i * stride
                    q[0] = rr[0] - rr[2]
                    q[stride] = rr[1] + rr[2]
                    q[2 * stride] = rr[2] - rr[1]
                    q[3 * stride] = rr[1] - rr[3]
                }
                put(0, r0)
                put(1, r1)
                put(2, r2)
                put(3, r3)
            }
        }
    }
}

/// out[b][o][2ty + i][2tx + j] = (A^T M A)[i][j] + bias[o], A^T = [1 1 1 0; 0 1 -1 -1]; rows and columns
/// past the output's edge (odd sizes) are dropped. Split over the output channels.
public func winogradOutput(_ m: UnsafePointer<Float>, _ g: WinogradGeometry, tiles: Range<Int>, bias: [Float]?,
                           into out: UnsafeMutablePointer<Float>) {
    let tb = tiles.count
    let stride = g.mStride
    parallelRanges(g.o, minChunk: max(1, 4096 / max(tb, 1))) { outs in
        for oc in outs {
            let beta = bias?[oc] ?? 0
            for (local, t) in tiles.enumerated() {
                let b = t / g.tilesPerImage, r = t % g.tilesPerImage
                let y0 = (r / g.tilesX) * 2, x0 = (r % g.tilesX) * 2
                let src = m + oc * tb + local
                func row(_ i: Int) -> SIMD4<Float> {
                    let p = src + 4 * i * stride
                    return SIMD4(p[0], p[stride], p[2 * stride], p[3 * stride])
                }
                let (m0, m1, m2, m3) = (row(0), row(1), row(2), row(3))
                let s0 = m0 + m1 + m2, s1 = m1 - m2 - m3
                let dst = out + (b * g.o + oc) * g.ho * g.wo + y0 * g.wo + x0
                dst[0] = s0[0] + s0[1] + s0[2] + beta
                if x0 + 1 < g.wo { dst[1] = s0[1] - s0[2] - s0[3] + beta }
                if y0 + 1 < g.ho {
                    dst[g.wo] = s1[0] + s1[1] + s1[2] + beta
                    if x0 + 1 < g.wo { dst[g.wo + 1] = s1[1] - s1[2] - s1[3] + beta }
                }
            }
        }
    }
}

/// Sizes of one Winograd convolution, shared by its transforms.
public struct WinogradGeometry: Sendable {
    public var c: Int, h: Int, w: Int
    public var o: Int, ho: Int, wo: Int
    public var padTop: Int, padLeft: Int
    public var tilesX: Int, tilesPerImage: Int
    /// Distance between the 16 planes of V and M (see `winogradPlaneStride`).
    public var vStride: Int, mStride: Int

    public init(c: Int, h: Int, w: Int, o: Int, ho: Int, wo: Int, padTop: Int, padLeft: Int, tilesX: Int,
                tilesPerImage: Int, vStride: Int, mStride: Int) {
        (self.c, self.h, self.w, self.o, self.ho, self.wo) = (c, h, w, o, ho, wo)
        (self.padTop, self.padLeft, self.tilesX, self.tilesPerImage) = (padTop, padLeft, tilesX, tilesPerImage)
        (self.vStride, self.mStride) = (vStride, mStride)
    }
}

/// The distance in floats between consecutive planes of a 16-plane Winograd buffer of `count` floats each:
/// rounded up to whole 4 KB pages plus one cache line, so the 16 streams a transform writes (or reads) at
/// once fall in different cache sets; plane sizes that are multiples of 4 KB would all alias one L1 set
/// and run 6x slower.
public func winogradPlaneStride(_ count: Int) -> Int {
    (count + 1023) / 1024 * 1024 + 16
}
