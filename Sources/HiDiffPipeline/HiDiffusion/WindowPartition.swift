import HiDiffCore

/// MSW-MSA's 2x2 window grid over one H x W token map with one shift (hidiffusion-spec.md §2.2; the
/// authors' `window_partition` / `window_reverse`, hidiffusion.py L1277-1330).
///
/// Windows are always half the map (ceil), so there are exactly four. Kept from the authors' code because
/// the outputs must match theirs:
/// - an odd H or W bicubic-resizes the whole map to (2 wh, 2 ww) before partitioning and back afterwards;
/// - the cyclic roll happens only when the *height* shift is positive (a width-only shift is dropped);
/// - no mask over wrapped-around regions.
public struct WindowPartition: Sendable, Equatable {
    public var height: Int
    public var width: Int
    /// ceil(height / 2), ceil(width / 2).
    public var windowHeight: Int
    public var windowWidth: Int
    /// q * floor(window / 4) per axis.
    public var shiftHeight: Int
    public var shiftWidth: Int

    /// The grid for a `height` x `width` map with shift bucket `q` (0...3).
    public init(height: Int, width: Int, bucket q: Int) {
        precondition((0...3).contains(q), "window shift bucket \(q) outside 0...3")
        self.height = height
        self.width = width
        windowHeight = (height + 1) / 2
        windowWidth = (width + 1) / 2
        shiftHeight = q * (windowHeight / 4)
        shiftWidth = q * (windowWidth / 4)
    }

    /// The map is resized to an even size around the partition.
    public var resizes: Bool { height % 2 != 0 || width % 2 != 0 }
    /// The map is rolled (the authors test the height component only).
    public var rolls: Bool { shiftHeight > 0 }

    /// [B, height * width, C] tokens (row-major) -> [4B, wh * ww, C] windows, batch-major, each batch item's
    /// windows in the order top-left, top-right, bottom-left, bottom-right, each window row-major.
    public func partition(_ tokens: Tensor) -> Tensor {
        let (b, c) = (tokens.dim(0), tokens.dim(2))
        precondition(tokens.rank == 3 && tokens.dim(1) == height * width,
                     "window partition of \(tokens.shape) for a \(height)x\(width) map")
        let (wh, ww) = (windowHeight, windowWidth)
        var x = tokens
        if resizes {
            x = x.tokensToNCHW(height: height, width: width).resizeBicubic(height: 2 * wh, width: 2 * ww)
                .nchwToTokens()
        }
        x = x.reshaped([b, 2 * wh, 2 * ww, c])
        if rolls {
            // new[i][j] = old[(i + shift_h) mod 2wh][(j + shift_w) mod 2ww]
            x = x.rolled(shifts: [-shiftHeight, -shiftWidth], axes: [1, 2])
        }
        return x.reshaped([b, 2, wh, 2, ww, c]).permuted([0, 1, 3, 2, 4, 5]).reshaped([4 * b, wh * ww, c])
    }

    /// The inverse of `partition` for [4B, wh * ww, C] windows -> [B, height * width, C].
    public func reverse(_ windows: Tensor) -> Tensor {
        let (wh, ww) = (windowHeight, windowWidth)
        precondition(windows.rank == 3 && windows.dim(0) % 4 == 0 && windows.dim(1) == wh * ww,
                     "window reverse of \(windows.shape) for \(wh)x\(ww) windows")
        let (b, c) = (windows.dim(0) / 4, windows.dim(2))
        var x = windows.reshaped([b, 2, 2, wh, ww, c]).permuted([0, 1, 3, 2, 4, 5]).reshaped([b, 2 * wh, 2 * ww, c])
        if rolls {
            x = x.rolled(shifts: [shiftHeight, shiftWidth], axes: [1, 2])
        }
        x = x.reshaped([b, 4 * wh * ww, c])
        if resizes {
            x = x.tokensToNCHW(height: 2 * wh, width: 2 * ww).resizeBicubic(height: height, width: width)
                .nchwToTokens()
        }
        return x
    }
}

extension WindowPartition {
    /// The map's rows (before the roll) that window row `t` (0: the top half after the roll) covers: one range,
    /// or two when the roll wraps it around the map's bottom. Only for maps that are not resized.
    public func mapRows(ofWindowRow t: Int) -> [Range<Int>] {
        precondition(!resizes && (0...1).contains(t), "window row \(t) of a \(height)x\(width) map")
        let start = (t * windowHeight + (rolls ? shiftHeight : 0)) % height
        let end = start + windowHeight
        return end <= height ? [start..<end] : [start..<height, 0..<(end - height)]
    }

    /// The window row (0 or 1) map row `m` falls in after the roll.
    public func windowRow(ofMapRow m: Int) -> Int {
        let shift = rolls ? shiftHeight : 0
        return ((m - shift) % height + height) % height / windowHeight
    }

    /// The map rows the window attention of a stripe's query rows reads: every row of each window row they
    /// fall in (half the map, or all of it when the stripe straddles both), sorted.
    public func rowsNeeded(byStripe rows: Range<Int>) -> [Range<Int>] {
        Set(rows.map(windowRow(ofMapRow:))).sorted().flatMap(mapRows(ofWindowRow:)).sorted { $0.lowerBound < $1.lowerBound }
    }
}
