import HiDiffCore

extension RGBImage {
    /// Converts a decoded image tensor in [-1, 1] to 8-bit RGB exactly as diffusers'
    /// `VaeImageProcessor.postprocess(output_type="pil")` does in float32:
    /// `(x / 2 + 0.5).clamp(0, 1)`, then numpy's `(x * 255).round().astype("uint8")`
    /// (round half to even). NaN becomes 0.
    ///
    /// - Parameters:
    ///   - tensor: `[N, 3, H, W]` (batch element `batchIndex` is taken) or `[3, H, W]`.
    public init(tensor: Tensor, batchIndex: Int = 0) {
        let batched = tensor.rank == 4
        precondition((batched && tensor.dim(1) == 3) || (tensor.rank == 3 && tensor.dim(0) == 3),
                     "expected an image tensor [N, 3, H, W] or [3, H, W], got \(tensor.shape)")
        precondition(!batched || (0..<tensor.dim(0)).contains(batchIndex),
                     "batch index \(batchIndex) out of range for \(tensor.shape)")
        let h = tensor.dim(-2), w = tensor.dim(-1), plane = h * w
        let start = batched ? batchIndex * 3 * plane : 0
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        tensor.data.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                for c in 0..<3 {
                    let s = start + c * plane
                    for i in 0..<plane { dst[3 * i + c] = Self.quantize(src[s + i]) }
                }
            }
        }
        self.init(width: w, height: h, pixels: pixels)
    }

    /// The image as a `[1, 3, H, W]` tensor in [-1, 1], as diffusers' `VaeImageProcessor.preprocess`
    /// computes it in float32 for img2img: `x / 255` (pil_to_numpy), then `2 * x - 1` (normalize).
    /// (Resizing to a multiple of 8 is the caller's business.)
    public func toTensor() -> Tensor {
        let plane = width * height
        return Tensor(shape: [1, 3, height, width]) { out in
            pixels.withUnsafeBufferPointer { src in
                for c in 0..<3 {
                    for i in 0..<plane {
                        let unit = Float(src[3 * i + c]) / 255
                        out[c * plane + i] = 2 * unit - 1
                    }
                }
            }
        }
    }

    /// One sample in [-1, 1] to a byte, with diffusers' float32 arithmetic.
    @inline(__always)
    static func quantize(_ x: Float) -> UInt8 {
        var v = x / 2 + 0.5
        if !(v > 0) { v = 0 } else if v > 1 { v = 1 }   // also maps NaN to 0
        return UInt8((v * 255).rounded(.toNearestOrEven))
    }
}
