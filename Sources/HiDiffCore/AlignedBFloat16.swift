import HiDiffKernels

/// bfloat16 values in memory aligned to 64 bytes, for oneDNN's convolution weights kept in its layout (the
/// convolutions' inputs come from `ScratchPool`, aligned at least as well). AMX tile loads from addresses
/// off a cache line split every row across two lines: the convolution took 10.7 ms instead of 5.2 ms on a
/// 320-channel 64x64 map with its operands 32 bytes off (Swift arrays' elements start 32 bytes into their
/// allocation). The matrix products (linear layers, attention, the feed-forward) showed no difference above
/// the machine's noise with aligned operands, and keep theirs in arrays.
final class AlignedBFloat16: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt16>
    let count: Int

    /// `count` values, uninitialised (huge pages advised when large).
    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 2, alignment: 64)
        HugePages.advise(raw, byteCount: count * 2)
        pointer = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
    }

    deinit { pointer.deallocate() }
}
