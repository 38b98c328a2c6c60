import Synchronization
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
    /// bfloat16 convolution weights: their copies in the layouts oneDNN's convolutions read, made on first use.
    let convolutionLayouts: ConvolutionWeightLayouts?

    /// `tensor` kept at `precision` (rounded to nearest even for bfloat16).
    public init(_ tensor: Tensor, precision: Precision = .fp32) {
        shape = tensor.shape
        switch precision {
        case .fp32:
            storage = .float32(tensor)
            convolutionLayouts = nil
        case .bf16:
            storage = .bfloat16(tensor.bfloat16Bits())
            convolutionLayouts = tensor.rank == 4 ? ConvolutionWeightLayouts() : nil
        }
    }

    /// Bytes of this weight's copies in oneDNN's convolution layouts (bfloat16 convolutions make one on first
    /// use; 0 before, and for every other weight).
    public var convolutionLayoutBytes: Int { convolutionLayouts?.byteCount ?? 0 }

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

/// A bfloat16 convolution weight in the layouts oneDNN's convolutions read (blocked for AMX tiles), keyed by
/// the layout's description: each is made once, by the first convolution that needs it, and kept with the
/// weight. Reordering a 1280-channel 3x3 weight costs about as much as the convolution itself.
final class ConvolutionWeightLayouts: Sendable {
    private let copies = Mutex<[[UInt8]: AlignedBFloat16]>([:])

    /// The copy for `layout`, made by `make` if there is none yet.
    func copy(for layout: [UInt8], make: () throws(BFloat16GEMMError) -> AlignedBFloat16) throws(BFloat16GEMMError)
        -> AlignedBFloat16 {
        if let copy = copies.withLock({ $0[layout] }) { return copy }
        let made = try make()
        return copies.withLock { copies in
            if let existing = copies[layout] { return existing }
            copies[layout] = made
            return made
        }
    }

    /// Bytes the copies take.
    var byteCount: Int { copies.withLock { $0.values.reduce(0) { $0 + $1.count * 2 } } }
}
