import ArgumentParser
import Foundation
import HiDiffCore

/// Reading and writing the files a person names on the command line.
enum CLIFiles {
    /// The contents of `path` if it is a regular file no larger than `limit`; a clear error otherwise (a FIFO
    /// or device is refused before it is opened, so nothing blocks).
    static func readRegularFile(_ path: String, what: String, limit: Int) throws -> Data? {
        do {
            return try RegularFile.read(path, maxBytes: limit)
        } catch RegularFileError.notFound {
            throw ValidationError("\(what) \(path): no such file")
        } catch RegularFileError.notRegular(_, let kind) {
            throw ValidationError("\(what) \(path) is not a regular file (it is \(kind))")
        } catch {
            throw ValidationError("\(what) \(error)")
        }
    }

    /// Checks, before any work, that `path` can take an output: its folder exists, and anything already
    /// there is a regular file (a device node, FIFO, folder or symlink is refused, never renamed over).
    static func checkOutput(_ path: String, what: String) throws {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        let folder = url.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("\(what) \(path): the folder \(folder) does not exist; create it or choose another path")
        }
        var info = stat()
        if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
            throw ValidationError("\(what) \(path) exists and is not a regular file (a folder, device, FIFO or symlink); choose another path")
        }
    }

    /// Refuses two outputs, or an output and an input, that name the same file.
    static func checkDistinct(_ paths: [(what: String, path: String?)]) throws {
        var seen: [String: String] = [:]
        for case let (what, path?) in paths {
            let key = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
            if let other = seen[key] { throw ValidationError("\(other) and \(what) name the same file (\(path)); one would destroy the other") }
            seen[key] = what
        }
    }

    /// Writes `bytes` to `path` through a temporary file renamed over it (after `checkOutput`).
    static func write(_ bytes: [UInt8], to path: String, what: String) throws {
        try checkOutput(path, what: what)
        let temporary = "\(path).tmp-\(ProcessInfo.processInfo.processIdentifier)"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
            throw ValidationError("\(what): cannot write \(temporary) (permissions or disk space?)")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ValidationError("\(what): cannot move the file into place at \(path)")
        }
    }
}
