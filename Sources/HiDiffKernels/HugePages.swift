#if canImport(Glibc)
import Glibc
#endif

/// Transparent huge pages for large fresh buffers (activations, kept weight copies, `ScratchPool`'s buffers).
///
/// malloc hands out buffers over 32 MB (and, before its threshold adapts, smaller ones) as fresh `mmap`
/// regions: the first write to every 4 KiB page faults into the kernel. For a layer's output of 84 MB that
/// was 20,000 faults, and measured half of a bfloat16 linear layer's time (`perf`: 56% in the kernel).
/// Advising the region before the first write lets the kernel back it with 2 MiB pages (512 times fewer
/// faults) where its policy is `madvise` (Debian's default) or `always`; elsewhere the call does nothing.
public enum HugePages {
    /// Buffers smaller than this are left alone: malloc serves them from memory it has already faulted in.
    public static let threshold = 4 << 20

    /// Advises the whole 2 MiB pages inside `byteCount` bytes at `start`, before anything is written there.
    @inlinable
    public static func advise(_ start: UnsafeMutableRawPointer, byteCount: Int) {
        #if os(Linux)
        guard byteCount >= threshold else { return }
        let huge = 2 << 20
        let lo = (Int(bitPattern: start) + huge - 1) & ~(huge - 1)
        let hi = (Int(bitPattern: start) + byteCount) & ~(huge - 1)
        guard hi > lo, let first = UnsafeMutableRawPointer(bitPattern: lo) else { return }
        _ = madvise(first, hi - lo, MADV_HUGEPAGE)  // fails harmlessly where the kernel has no huge pages
        #endif
    }

    /// `advise` for a typed buffer.
    @inlinable
    public static func advise<T>(_ buffer: UnsafeMutableBufferPointer<T>) {
        guard let base = buffer.baseAddress else { return }
        advise(UnsafeMutableRawPointer(base), byteCount: buffer.count * MemoryLayout<T>.stride)
    }
}
