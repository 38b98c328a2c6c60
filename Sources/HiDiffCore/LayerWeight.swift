import HiDiffKernels

/// The weight of a linear layer or a convolution, kept at the precision the model was loaded in: float32,
/// or bfloat16 bit patterns (half the memory; `Tensor.linear` and `conv2d` then multiply in bfloat16).
public struct LayerWeight: Sendable {
    /// The stored values.
    public enum Storage: Sendable {
        case float32(Tensor)
        /// Row-major bfloat16 bit patterns (`bfloat16Bits`), as many as `shape` holds.
        case bfloat16([UInt16])
    }

    /// The extent of each axis: [out, in] for a linear layer, [out, in, kh, kw] for a convolution.
    public let shape: [Int]
    public let storage: Storage

    /// `tensor` kept at `precision` (rounded to nearest even for bfloat16).
    public init(_ tensor: Tensor, precision: Precision = .fp32) {
        shape = tensor.shape
        switch precision {
        case .fp32:
            storage = .float32(tensor)
        case .bf16:
            storage = .bfloat16(tensor.bfloat16Bits())
        }
    }

    /// The precision the values are kept in.
    public var precision: Precision {
        if case .bfloat16 = storage { return .bf16 }
        return .fp32
    }

    /// Number of axes.
    public var rank: Int { shape.count }

    /// The extent of axis `i` (negative counts from the end).
    public func dim(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }

    /// The values as float32 (exact for bfloat16: every bfloat16 is a float32).
    public var float32: Tensor {
        switch storage {
        case let .float32(t):
            return t
        case let .bfloat16(bits):
            return Tensor(shape: shape) { out in
                bits.withUnsafeBufferPointer { convertFromBFloat16($0.baseAddress!, out.baseAddress!, count: bits.count) }
            }
        }
    }

    /// Bytes the values take.
    public var byteCount: Int {
        switch storage {
        case let .float32(t): return t.count * 4
        case let .bfloat16(bits): return bits.count * 2
        }
    }
}

extension Tensor {
    /// The elements rounded to bfloat16 (nearest even), as bit patterns.
    public func bfloat16Bits() -> [UInt16] {
        if count == 0 { return [] }
        return [UInt16](unsafeUninitializedCapacity: count) { out, n in
            HugePages.advise(out)
            data.withUnsafeBufferPointer { convertToBFloat16Parallel($0.baseAddress!, out.baseAddress!, count: count) }
            n = count
        }
    }

    /// The elements rounded to bfloat16 and widened back: the values a bfloat16 product sees.
    public func roundedToBFloat16() -> Tensor {
        LayerWeight(self, precision: .bf16).float32
    }
}
