/// Read-only bytes a `SafeTensorsFile` parses and loads from: a memory-mapped file (`MappedFile`) or a
/// copy held in memory (`MemoryRegion`). Immutable and alive as long as the reference.
protocol ByteRegion: AnyObject, Sendable {
    /// The first byte (nil when the region is empty).
    var base: UnsafeRawPointer? { get }
    /// The number of bytes.
    var size: Int { get }
}

extension MappedFile: ByteRegion {}
