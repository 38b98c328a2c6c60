import Foundation
import HiDiffImage
import HiDiffStore

/// What `hidiff generate` makes for a stored request: the same binary as the workers (so the same BLAS
/// kernels), run with `--request`, to compare cluster results with pixel for pixel.
final class ReferenceImages: @unchecked Sendable {
    private let cluster: LocalCluster
    private var cache: [String: RGBImage] = [:]
    private let lock = NSLock()

    init(cluster: LocalCluster) {
        self.cluster = cluster
    }

    func image(for requestJSON: String) throws -> RGBImage {
        if let hit = lock.withLock({ cache[requestJSON] }) { return hit }
        let name = UUID().uuidString
        let requestFile = "\(cluster.dir)/\(name).json", png = "\(cluster.dir)/\(name).png"
        try Data(requestJSON.utf8).write(to: URL(fileURLWithPath: requestFile))
        let r = try cluster.cli(["generate", "--request", requestFile, "-o", png, "--quiet"])
        guard r.status == 0 else { throw TestDatabaseErrorShim("hidiff generate --request failed: \(r.err)") }
        let image = try PNGReader.read(png)
        lock.withLock { cache[requestJSON] = image }
        return image
    }

    /// The largest per-channel difference between a stored result and `hidiff generate` (0 = identical).
    func maxDifference(_ result: JobResult, requestJSON: String) throws -> Int {
        let got = try PNGReader.read(bytes: result.png)
        let want = try image(for: requestJSON)
        guard got.width == want.width, got.height == want.height else { return 255 }
        return try ImageDifference(got, want).maxDifference
    }
}

struct TestDatabaseErrorShim: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
