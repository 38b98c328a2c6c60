import HiDiffKernels
extension Tensor {
    /// torch `F.interpolate(mode="nearest", size=(height, width))` on NCHW (the legacy rule, not
    /// "nearest-exact"): source index = min(floor(dst * (in / out)), in - 1) with the scale in float32.
    public func upsampleNearest(height: Int, width: Int) -> Tensor {
        profiled("upsampleNearest") { upsampleNearestCore(height: height, width: width) }
    }

    func upsampleNearestCore(height: Int, width: Int) -> Tensor {
        precondition(rank == 4, "upsampleNearest needs NCHW, got \(shape)")
        return upsampleNearest(rows: Tensor.nearestIndices(input: dim(2), output: height),
                               columns: Tensor.nearestIndices(input: dim(3), output: width))
    }

    /// torch's legacy nearest source index of each output position: min(floor(dst * (in / out)), in - 1).
    static func nearestIndices(input: Int, output: Int) -> [Int] {
        let scale = Float(input) / Float(output)
        return (0..<output).map { min(Int((Float($0) * scale).rounded(.down)), input - 1) }
    }

    /// Output row y copies source row `ys[y]`, column x source column `xs[x]`.
    func upsampleNearest(rows ys: [Int], columns xs: [Int]) -> Tensor {
        let (n, c, h, w) = (dim(0), dim(1), dim(2), dim(3))
        let height = ys.count, width = xs.count
        return Tensor(shape: [n, c, height, width]) { out in
            data.withUnsafeBufferPointer { src in
                let s = src.baseAddress!, o = out.baseAddress!
                parallelRanges(n * c, minChunk: max(1, (1 << 14) / max(height * width, 1))) { r in
                    for p in r {
                        let plane = s + p * h * w
                        for y in 0..<height {
                            let line = plane + ys[y] * w
                            let dst = o + (p * height + y) * width
                            for x in 0..<width { dst[x] = line[xs[x]] }
                        }
                    }
                }
            }
        }
    }

    /// torch `F.interpolate(mode="bicubic", align_corners=False)` on NCHW: half-pixel centres, source
    /// coordinates not clamped, cubic coefficient A = -0.75, border indices clamped, float32 arithmetic.
    public func resizeBicubic(height: Int, width: Int) -> Tensor {
        precondition(rank == 4, "resizeBicubic needs NCHW, got \(shape)")
        return resizeBicubic(rows: Tensor.cubicTaps(input: dim(2), output: height),
                             columns: Tensor.cubicTaps(input: dim(3), output: width))
    }

    /// Bicubic resampling with precomputed taps: output row y mixes source rows `ty[y]`, column x source
    /// columns `tx[x]` (rows first, then columns, as PyTorch sums).
    func resizeBicubic(rows ty: [([Int], [Float])], columns tx: [([Int], [Float])]) -> Tensor {
        let (n, c, h, w) = (dim(0), dim(1), dim(2), dim(3))
        let height = ty.count, width = tx.count
        return Tensor(shape: [n, c, height, width]) { out in
            data.withUnsafeBufferPointer { src in
                let s = src.baseAddress!, o = out.baseAddress!
                parallelRanges(n * c, minChunk: 1) { r in
                    for p in r {
                        let plane = s + p * h * w
                        for y in 0..<height {
                            let (iy, wy) = ty[y]
                            let dst = o + (p * height + y) * width
                            for x in 0..<width {
                                let (ix, wx) = tx[x]
                                var acc: Float = 0
                                for a in 0..<4 {
                                    let line = plane + iy[a] * w
                                    let rowVal = line[ix[0]] * wx[0] + line[ix[1]] * wx[1]
                                        + line[ix[2]] * wx[2] + line[ix[3]] * wx[3]
                                    acc += rowVal * wy[a]
                                }
                                dst[x] = acc
                            }
                        }
                    }
                }
            }
        }
    }

    /// The four clamped source indices and weights of each output position (PyTorch's upsample_bicubic2d).
    static func cubicTaps(input: Int, output: Int) -> [([Int], [Float])] {
        let a: Float = -0.75
        let scale = Float(input) / Float(output)
        func cc1(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
        func cc2(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return (0..<output).map { dst in
            let real = scale * (Float(dst) + 0.5) - 0.5
            let i0 = Int(real.rounded(.down))
            let t = real - Float(i0)
            let weights = [cc2(t + 1), cc1(t), cc1(1 - t), cc2(2 - t)]
            let idx = (-1...2).map { min(max(i0 + $0, 0), input - 1) }
            return (idx, weights)
        }
    }

    /// torch `F.avg_pool2d(kernel_size=2, stride=2, ceil_mode=True)` on NCHW: output ceil(h/2) x ceil(w/2);
    /// an edge window that overhangs the border is divided by its in-bounds element count.
    public func avgPool2x2CeilMode() -> Tensor {
        precondition(rank == 4, "avgPool2x2CeilMode needs NCHW, got \(shape)")
        let (n, c, h, w) = (dim(0), dim(1), dim(2), dim(3))
        let ho = (h + 1) / 2, wo = (w + 1) / 2
        return Tensor(shape: [n, c, ho, wo]) { out in
            data.withUnsafeBufferPointer { src in
                let s = src.baseAddress!, o = out.baseAddress!
                parallelRanges(n * c, minChunk: max(1, (1 << 14) / max(h * w, 1))) { r in
                    for p in r {
                        let plane = s + p * h * w
                        for y in 0..<ho {
                            let y1 = min(2 * y + 2, h)
                            for x in 0..<wo {
                                let x1 = min(2 * x + 2, w)
                                var acc: Float = 0
                                for yy in (2 * y)..<y1 { for xx in (2 * x)..<x1 { acc += plane[yy * w + xx] } }
                                o[(p * ho + y) * wo + x] = acc / Float((y1 - 2 * y) * (x1 - 2 * x))
                            }
                        }
                    }
                }
            }
        }
    }
}
