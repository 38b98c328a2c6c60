/// A private, 16-byte aligned copy of some bytes, freed when the last reference goes. Immutable after init,
/// hence safe to share.
final class MemoryRegion: ByteRegion, @unchecked Sendable {
    let base: UnsafeRawPointer?
    let size: Int

    init(_ bytes: [UInt8]) {
        let n = bytes.count
        size = n
        guard n > 0 else {
            base = nil
            return
        }
        let p = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 16)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: n) }
        base = UnsafeRawPointer(p)
    }

    deinit {
        base.map { UnsafeMutableRawPointer(mutating: $0).deallocate() }
    }
}
