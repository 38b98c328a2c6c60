import HiDiffCore
import NIOCore

/// One member's contribution to a call as it travels: its shape and its elements as little-endian bytes
/// (float32, or float64 for all-reduce values).
struct WireBlock {
    var shape: [Int]
    var bytes: ByteBuffer

    init(shape: [Int], bytes: ByteBuffer) {
        self.shape = shape
        self.bytes = bytes
    }

    init(_ tensor: Tensor) {
        var bytes = ByteBufferAllocator().buffer(capacity: tensor.count * 4)
        _ = tensor.data.withUnsafeBufferPointer { values in
            #if _endian(little)
            bytes.writeBytes(UnsafeRawBufferPointer(values))
            #else
            for v in values { bytes.writeInteger(v.bitPattern, endianness: .little) }
            #endif
        }
        self.init(shape: tensor.shape, bytes: bytes)
    }

    init(_ values: [Double]) {
        var bytes = ByteBufferAllocator().buffer(capacity: values.count * 8)
        _ = values.withUnsafeBufferPointer { values in
            #if _endian(little)
            bytes.writeBytes(UnsafeRawBufferPointer(values))
            #else
            for v in values { bytes.writeInteger(v.bitPattern, endianness: .little) }
            #endif
        }
        self.init(shape: [values.count], bytes: bytes)
    }

    /// The float32 elements as a tensor (the receiver checked that the byte count matches the shape).
    var tensor: Tensor {
        // No uninitialized storage for an empty tensor: it would be the shared empty array's (TSan flags writes).
        if bytes.readableBytes == 0 { return Tensor(shape: shape, data: []) }
        return Tensor(shape: shape) { out in copy(into: UnsafeMutableRawBufferPointer(out), elementSize: 4) }
    }

    /// The float64 elements.
    var doubles: [Double] {
        let n = bytes.readableBytes / 8
        if n == 0 { return [] }
        return [Double](unsafeUninitializedCapacity: n) { out, count in
            copy(into: UnsafeMutableRawBufferPointer(out), elementSize: 8)
            count = n
        }
    }

    private func copy(into out: UnsafeMutableRawBufferPointer, elementSize: Int) {
        precondition(out.count == bytes.readableBytes, "block of \(bytes.readableBytes) bytes for \(out.count)")
        bytes.withUnsafeReadableBytes { raw in
            #if _endian(little)
            out.copyMemory(from: raw)
            #else
            for i in stride(from: 0, to: raw.count, by: elementSize) {
                for k in 0..<elementSize { out[i + k] = raw[i + elementSize - 1 - k] }
            }
            #endif
        }
    }
}
