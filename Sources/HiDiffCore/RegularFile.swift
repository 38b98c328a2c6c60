#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Reading the files a user names (weights, configs, tokenizers, images, requests) without blocking and with
/// errors that say what is wrong: anything but a regular file is refused before it is opened (opening a FIFO
/// blocks until something writes to it; reading a folder fails with a misleading "permission" error).
public enum RegularFile {
    /// The size of `path`, which must be a regular file of at most `maxBytes` (symlinks are followed).
    public static func size(_ path: String, maxBytes: Int = .max) throws -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw RegularFileError.notFound(path: path) }
            throw RegularFileError.unreadable(path: path, reason: String(cString: strerror(code)))
        }
        let kind = info.st_mode & S_IFMT
        guard kind == S_IFREG else { throw RegularFileError.notRegular(path: path, kind: Self.describe(kind)) }
        let size = Int(info.st_size)
        guard size <= maxBytes else { throw RegularFileError.tooLarge(path: path, size: size, limit: maxBytes) }
        return size
    }

    /// The contents of `path`, a regular file of at most `maxBytes`.
    public static func read(_ path: String, maxBytes: Int) throws -> Data {
        _ = try size(path, maxBytes: maxBytes)
        // O_NONBLOCK: should the path turn into a FIFO after the check, opening it still returns at once.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw RegularFileError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw RegularFileError.notRegular(path: path, kind: Self.describe(info.st_mode & S_IFMT))
        }
        let size = Int(info.st_size)
        guard size <= maxBytes else { throw RegularFileError.tooLarge(path: path, size: size, limit: maxBytes) }
        var data = Data(count: size)
        var done = 0
        try data.withUnsafeMutableBytes { buffer in
            while done < size {
                let n = Glibc.read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw RegularFileError.unreadable(path: path, reason: String(cString: strerror(errno))) }
                if n == 0 { break }  // shrank while reading
                done += n
            }
        }
        return done == size ? data : data.prefix(done)
    }

    static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: "a folder"
        case S_IFIFO: "a FIFO"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }
}

/// Why a file a user named cannot be read; each message names the path and what to do.
public enum RegularFileError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case notRegular(path: String, kind: String)
    case tooLarge(path: String, size: Int, limit: Int)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .notFound(path), let .notRegular(path, _), let .tooLarge(path, _, _): "\(path): \(reason)"
        }
    }

    /// What is wrong, without the path (for errors that name the path themselves).
    public var reason: String {
        switch self {
        case .notFound: "it does not exist"
        case let .notRegular(_, kind): "it is \(kind), not a regular file"
        case let .tooLarge(_, size, limit): "it is \(size) bytes, more than the \(limit) such a file may have"
        case let .unreadable(_, reason): reason
        }
    }
}
