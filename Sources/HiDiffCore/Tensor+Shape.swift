import HiDiffKernels
extension Tensor {
    /// Row-major strides of `shape`.
    @inlinable
    public static func strides(of shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// The axes reordered: result axis i is this tensor's axis `axes[i]` (torch `permute`), made contiguous.
    public func permuted(_ axes: [Int]) -> Tensor {
        profiled("permute") { permutedCore(axes) }
    }

    func permutedCore(_ axes: [Int]) -> Tensor {
        precondition(axes.sorted() == Array(0..<rank), "bad permutation \(axes) for rank \(rank)")
        if axes == Array(0..<rank) { return self }
        let newShape = axes.map { shape[$0] }
        if let t = batchedTransposeSplit(axes) {
            // [P..., A..., B...] -> [P..., B..., A...]: a batch of 2-D transposes, done in cache tiles.
            let batch = shape[..<t.lead].reduce(1, *)
            let rowsA = shape[t.lead..<t.split].reduce(1, *), colsB = shape[t.split...].reduce(1, *)
            return Tensor(shape: newShape) { out in
                data.withUnsafeBufferPointer { src in
                    transposeBatched(src.baseAddress!, out.baseAddress!, batch: batch, rows: rowsA, cols: colsB)
                }
            }
        }
        let inStrides = Tensor.strides(of: shape)
        let srcStrides = axes.map { inStrides[$0] }
        let r = rank
        let innerLen = newShape[r - 1], innerStride = srcStrides[r - 1]
        let outer = count / max(innerLen, 1)
        return Tensor(shape: newShape) { out in
            data.withUnsafeBufferPointer { src in
                let s = src.baseAddress!, o = out.baseAddress!
                parallelRanges(outer, minChunk: max(1, 4096 / max(innerLen, 1))) { range in
                    var idx = [Int](repeating: 0, count: r)
                    for row in range {
                        // Decompose the outer row index into coordinates of the leading r-1 axes.
                        var rem = row, offset = 0
                        for ax in stride(from: r - 2, through: 0, by: -1) {
                            idx[ax] = rem % newShape[ax]
                            rem /= newShape[ax]
                            offset += idx[ax] * srcStrides[ax]
                        }
                        let dst = o + row * innerLen
                        if innerStride == 1 {
                            dst.update(from: s + offset, count: innerLen)
                        } else {
                            for j in 0..<innerLen { dst[j] = s[offset + j * innerStride] }
                        }
                    }
                }
            }
        }
    }

    /// For `axes` of the form [0..<lead, split..<rank, lead..<split] (a rotation after an identity prefix),
    /// the two boundaries; nil for other permutations.
    func batchedTransposeSplit(_ axes: [Int]) -> (lead: Int, split: Int)? {
        var lead = 0
        while lead < rank && axes[lead] == lead { lead += 1 }
        guard lead < rank else { return nil }
        let split = axes[lead]
        let expected = Array(split..<rank) + Array(lead..<split)
        return Array(axes[lead...]) == expected ? (lead, split) : nil
    }

    /// The tensors joined along `axis`; all other extents must agree.
    public static func concat(_ ts: [Tensor], axis: Int) -> Tensor {
        profiled("concat") { concatCore(ts, axis: axis) }
    }

    static func concatCore(_ ts: [Tensor], axis: Int) -> Tensor {
        precondition(!ts.isEmpty, "concat of no tensors")
        if ts.count == 1 { return ts[0] }
        let r = ts[0].rank
        let ax = axis < 0 ? r + axis : axis
        var outShape = ts[0].shape
        outShape[ax] = ts.reduce(0) { $0 + $1.shape[ax] }
        for t in ts {
            var a = t.shape, b = ts[0].shape
            a[ax] = 0; b[ax] = 0
            precondition(a == b, "concat along \(ax) of shapes \(ts.map(\.shape))")
        }
        let outer = ts[0].shape[..<ax].reduce(1, *)
        let inner = ts[0].shape[(ax + 1)...].reduce(1, *)
        let outRow = outShape[ax] * inner
        return Tensor(shape: outShape) { out in
            let o = out.baseAddress!
            var col = 0
            for t in ts {
                let len = t.shape[ax] * inner
                t.data.withUnsafeBufferPointer { src in
                    let s = src.baseAddress!, c = col
                    parallelRanges(outer, minChunk: max(1, (1 << 15) / max(len, 1))) { r in
                        for i in r { (o + i * outRow + c).initialize(from: s + i * len, count: len) }
                    }
                }
                col += len
            }
        }
    }

    /// The sub-tensor with `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = axis < 0 ? rank + axis : axis
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[ax],
                     "slice \(range) of axis \(ax) with extent \(shape[ax])")
        var outShape = shape
        outShape[ax] = range.count
        let outer = shape[..<ax].reduce(1, *)
        let inner = shape[(ax + 1)...].reduce(1, *)
        return Tensor(shape: outShape) { out in
            data.withUnsafeBufferPointer { src in
                let s = src.baseAddress!, o = out.baseAddress!
                let len = range.count * inner
                for i in 0..<outer {
                    (o + i * len).update(from: s + (i * shape[ax] + range.lowerBound) * inner, count: len)
                }
            }
        }
    }

    /// `n` equal parts along `axis` (torch `chunk` with a divisible extent).
    public func chunked(_ n: Int, axis: Int) -> [Tensor] {
        let ax = axis < 0 ? rank + axis : axis
        precondition(shape[ax] % n == 0, "cannot split axis \(ax) of \(shape) into \(n) equal parts")
        let part = shape[ax] / n
        return (0..<n).map { slice(axis: ax, ($0 * part)..<(($0 + 1) * part)) }
    }

    /// torch.roll: element i along each axis moves to (i + shift) mod extent.
    public func rolled(shifts: [Int], axes: [Int]) -> Tensor {
        precondition(shifts.count == axes.count, "roll needs one shift per axis")
        var t = self
        for (s, a) in zip(shifts, axes) {
            let ax = a < 0 ? rank + a : a
            let n = shape[ax]
            guard n > 0 else { continue }
            let k = ((s % n) + n) % n
            if k == 0 { continue }
            t = Tensor.concat([t.slice(axis: ax, (n - k)..<n), t.slice(axis: ax, 0..<(n - k))], axis: ax)
        }
        return t
    }

    /// [N, C, H, W] -> [N, H*W, C] (the token layout of diffusers' transformer blocks).
    public func nchwToTokens() -> Tensor {
        precondition(rank == 4, "nchwToTokens needs NCHW, got \(shape)")
        return permuted([0, 2, 3, 1]).reshaped([dim(0), dim(2) * dim(3), dim(1)])
    }

    /// [N, H*W, C] -> [N, C, H, W].
    public func tokensToNCHW(height: Int, width: Int) -> Tensor {
        precondition(rank == 3 && dim(1) == height * width, "tokensToNCHW: \(shape) vs \(height)x\(width)")
        return reshaped([dim(0), height, width, dim(2)]).permuted([0, 3, 1, 2])
    }

    /// An NCHW tensor with zero rows/columns added at each border (torch F.pad with (left, right, top, bottom)).
    public func padded(top: Int, bottom: Int, left: Int, right: Int) -> Tensor {
        precondition(rank == 4, "padded needs NCHW, got \(shape)")
        let (n, c, h, w) = (dim(0), dim(1), dim(2), dim(3))
        let ho = h + top + bottom, wo = w + left + right
        var out = Tensor(zeros: [n, c, ho, wo])
        out.data.withUnsafeMutableBufferPointer { ob in
            data.withUnsafeBufferPointer { sb in
                let o = ob.baseAddress!, s = sb.baseAddress!
                for p in 0..<(n * c) {
                    for y in 0..<h {
                        (o + p * ho * wo + (y + top) * wo + left).update(from: s + p * h * w + y * w, count: w)
                    }
                }
            }
        }
        return out
    }
}
