import Synchronization

/// Large scratch buffers kept between calls, so a kernel's scratch is not faulted in afresh on every call.
///
/// A fresh buffer of several megabytes is a new `mmap` region, and the kernel zeroes every page of it on the
/// first write: `perf` on SD 1.5's float32 forward at 512 px put 6.7% of the time in the kernel's
/// `clear_page`, over a third of it under the Winograd weight transform's scratch, which is allocated and freed
/// once per convolution. Buffers from the pool are faulted in once and reused.
///
/// A buffer checked out belongs to its holder alone until `body` returns, so two jobs or two stripes in one
/// process never share one; its contents are whatever its last holder left, so callers treat it as
/// uninitialised, exactly like fresh memory. At most `retainedBytes` are kept idle: past that the buffers idle
/// longest are freed. Buffers under `HugePages.threshold` are plain allocations (malloc reuses those itself).
public final class ScratchPool: Sendable {
    /// The process's pool: 512 MiB idle at most (the largest scratch of SD 1.5 and SDXL at 1024 px, the
    /// transformed weights of a 1280-channel Winograd convolution, is 105 MB).
    public static let shared = ScratchPool(retainedBytes: 512 << 20)

    /// Idle bytes kept at most.
    public let retainedBytes: Int

    /// Idle buffers, oldest first, as addresses (a raw pointer is not `Sendable`).
    private let idle = Mutex<[(address: Int, bytes: Int)]>([])

    /// A pool keeping at most `retainedBytes` idle.
    public init(retainedBytes: Int) {
        self.retainedBytes = retainedBytes
    }

    deinit {
        idle.withLock { buffers in
            for b in buffers { UnsafeMutableRawPointer(bitPattern: b.address)?.deallocate() }
        }
    }

    /// Runs `body` with an uninitialised buffer of `capacity` elements, aligned to 64 bytes (2 MiB when
    /// pooled), returned to the pool afterwards.
    public func withBuffer<T, R>(_ type: T.Type, capacity: Int,
                                 _ body: (UnsafeMutablePointer<T>) throws -> R) rethrows -> R {
        let bytes = max(capacity, 1) * MemoryLayout<T>.stride
        guard bytes >= HugePages.threshold else {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            defer { raw.deallocate() }
            return try body(raw.bindMemory(to: T.self, capacity: max(capacity, 1)))
        }
        let buffer = checkOut(bytes)
        defer { checkIn(buffer) }
        let raw = UnsafeMutableRawPointer(bitPattern: buffer.address)!
        return try body(raw.bindMemory(to: T.self, capacity: max(capacity, 1)))
    }

    /// The bytes idle in the pool now.
    public var idleBytes: Int {
        idle.withLock { $0.reduce(0) { $0 + $1.bytes } }
    }

    /// The smallest idle buffer that holds `bytes`, or a new one rounded up to whole 2 MiB pages.
    private func checkOut(_ bytes: Int) -> (address: Int, bytes: Int) {
        let reused: (address: Int, bytes: Int)? = idle.withLock { buffers in
            let fitting = buffers.indices.filter { buffers[$0].bytes >= bytes }
            return fitting.min { buffers[$0].bytes < buffers[$1].bytes }.map { buffers.remove(at: $0) }
        }
        if let reused { return reused }
        let huge = 2 << 20
        let rounded = (bytes + huge - 1) / huge * huge
        let raw = UnsafeMutableRawPointer.allocate(byteCount: rounded, alignment: huge)
        HugePages.advise(raw, byteCount: rounded)
        return (Int(bitPattern: raw), rounded)
    }

    /// Keeps `buffer` for the next caller, freeing the buffers idle longest past `retainedBytes`.
    private func checkIn(_ buffer: (address: Int, bytes: Int)) {
        let freed: [Int] = idle.withLock { buffers in
            buffers.append(buffer)
            var total = buffers.reduce(0) { $0 + $1.bytes }
            var freed: [Int] = []
            while total > retainedBytes, !buffers.isEmpty {
                let oldest = buffers.removeFirst()
                total -= oldest.bytes
                freed.append(oldest.address)
            }
            return freed
        }
        for address in freed { UnsafeMutableRawPointer(bitPattern: address)?.deallocate() }
    }
}
