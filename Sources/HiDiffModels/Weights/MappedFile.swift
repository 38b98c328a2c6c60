#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import HiDiffCore

/// A whole file mapped read-only into memory with mmap(2); unmapped when the last reference goes.
///
/// The bytes are paged in by the kernel on first touch, so opening a multi-gigabyte checkpoint is cheap
/// and only the tensors actually read cost I/O. Immutable after init, hence safe to share.
final class MappedFile: @unchecked Sendable {
    let path: String
    /// The first byte of the mapping (nil for an empty file, which cannot be mapped).
    let base: UnsafeRawPointer?
    /// The file size in bytes.
    let size: Int

    init(path: String) throws {
        self.path = path
        // Checked before opening: opening a FIFO would block until something writes to it.
        do {
            _ = try RegularFile.size(path)
        } catch RegularFileError.notFound {
            throw WeightError.fileNotFound(path: path)
        } catch let error as RegularFileError {
            throw WeightError.unreadable(path: path, reason: error.reason)
        }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            if e == ENOENT { throw WeightError.fileNotFound(path: path) }
            throw WeightError.unreadable(path: path, reason: Self.message(e))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw WeightError.unreadable(path: path, reason: Self.message(errno))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            let what = (st.st_mode & S_IFMT) == S_IFDIR ? "it is a directory" : "it is not a regular file"
            throw WeightError.unreadable(path: path, reason: what)
        }
        size = Int(st.st_size)
        if size == 0 {
            base = nil
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
              p != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw WeightError.unreadable(path: path, reason: "mmap failed: " + Self.message(errno))
        }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    static func message(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
