import Foundation
import HiDiffCore

/// Whole-file reads and atomic writes with errors as `PNGError`.
enum PNGFile {
    static func read(_ path: String) throws(PNGError) -> [UInt8] {
        do {
            return [UInt8](try RegularFile.read(path, maxBytes: 1 << 30))
        } catch RegularFileError.notFound {
            throw .fileNotFound(path: path)
        } catch {
            throw .unreadable(path: path, reason: (error as? RegularFileError)?.reason ?? "\(error)")
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
