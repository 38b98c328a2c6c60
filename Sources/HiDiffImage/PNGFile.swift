import Foundation

/// Whole-file reads and atomic writes with errors as `PNGError`.
enum PNGFile {
    static func read(_ path: String) throws(PNGError) -> [UInt8] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw .fileNotFound(path: path)
        }
        guard !isDir.boolValue else { throw .unreadable(path: path, reason: "it is a directory") }
        do {
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
    }

    /// Writes through a temporary file renamed into place, so readers never see a partial PNG.
    static func write(_ bytes: [UInt8], to path: String) throws(PNGError) {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .writeFailed(path: path, reason: error.localizedDescription)
        }
    }
}
