import Foundation
import HiDiffCore

/// A one-line progress bar on stderr: step, it/s and ETA, redrawn in place.
struct ProgressBar {
    let total: Int
    let label: String
    let enabled: Bool
    private var start: Double = ProcessStats.now()

    init(total: Int, label: String, enabled: Bool) {
        self.total = total
        self.label = label
        self.enabled = enabled
    }

    /// Draws the bar after `done` of `total` steps.
    func update(_ done: Int) {
        guard enabled else { return }
        let elapsed = ProcessStats.now() - start
        let rate = done > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 24
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let speed = rate >= 1 ? String(format: "%.2f it/s", rate) : String(format: "%.2f s/it", rate > 0 ? 1 / rate : 0)
        let line = String(format: "\r%@ [%@] %d/%d %@ ETA %@ ", label, bar, done, total, speed, Self.clock(eta))
        FileHandle.standardError.write(Data(line.utf8))
        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}
