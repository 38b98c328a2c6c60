import HiDiffKernels
extension Tensor {
    /// Whether `conv2dCore` takes the Winograd path: 3x3, stride 1, dilation 1, and enough output pixels
    /// that the per-call weight transform (16 / 9 of the weights, written once) is repaid by the 2.25x
    /// fewer multiplications; with few input channels the transforms would cost more than the GEMMs save.
    static func winogradApplies(kh: Int, kw: Int, stride: Int, dilation: Int, channels: Int,
                                outputPixels: Int) -> Bool {
        kh == 3 && kw == 3 && stride == 1 && dilation == 1 && channels >= 32 && outputPixels >= 512
    }

    /// 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray 2016).
    ///
    /// Each 2x2 output tile is A^T [ (G g G^T) . (B^T d B) ] A for the 4x4 input patch d; summed over
    /// input channels the elementwise product becomes 16 independent GEMMs
    /// M[xi] (O x T) = U[xi] (O x C) V[xi] (C x T) over T tiles, 2.25x fewer multiplications than direct
    /// convolution. The transforms only add, subtract and halve, so float32 results stay within a few ulps
    /// of the direct product. Tiles are processed in blocks so the scratch stays bounded.
    static func conv3x3Winograd(_ x: Tensor, weight: Tensor, bias: Tensor?, padTop: Int, padLeft: Int,
                                ho: Int, wo: Int, into out: UnsafeMutablePointer<Float>) {
        let (n, c, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
        let o = weight.dim(0)
        let tilesY = (ho + 1) / 2, tilesX = (wo + 1) / 2
        let tilesPerImage = tilesY * tilesX, totalTiles = n * tilesPerImage
        let blockTiles = max(1, min(totalTiles, (1 << 23) / (16 * max(c, o))))
        let uStride = winogradPlaneStride(o * c), vStride = winogradPlaneStride(c * blockTiles)
        let mStride = winogradPlaneStride(o * blockTiles)
        // Count what a direct convolution would have issued, less the GEMMs below (counted by sgemm).
        modelFlopCounter.add(2 * n * ho * wo * o * c * 9 - 2 * 16 * o * c * totalTiles, ordering: .relaxed)
        let geometry = WinogradGeometry(c: c, h: h, w: w, o: o, ho: ho, wo: wo, padTop: padTop, padLeft: padLeft,
                                        tilesX: tilesX, tilesPerImage: tilesPerImage, vStride: vStride,
                                        mStride: mStride)
        // U, V and M in one pooled buffer (fresh ones were zeroed by the kernel on every call: `ScratchPool`).
        ScratchPool.shared.withBuffer(Float.self, capacity: 16 * (uStride + vStride + mStride)) { u in
            let v = u + 16 * uStride, m = v + 16 * vStride
            weight.data.withUnsafeBufferPointer { wb in
                winogradWeights(wb.baseAddress!, o: o, c: c, stride: uStride, into: u)
            }
            x.data.withUnsafeBufferPointer { xb in
                let bias = bias?.data
                var t0 = 0
                while t0 < totalTiles {
                    let tb = min(blockTiles, totalTiles - t0)
                    winogradInput(xb.baseAddress!, geometry, tiles: t0..<(t0 + tb), into: v)
                    for xi in 0..<16 {
                        sgemm(m: o, n: tb, k: c, a: u + xi * uStride, lda: c, b: v + xi * vStride, ldb: tb,
                              c: m + xi * mStride, ldc: tb)
                    }
                    winogradOutput(m, geometry, tiles: t0..<(t0 + tb), bias: bias, into: out)
                    t0 += tb
                }
            }
        }
    }
}
