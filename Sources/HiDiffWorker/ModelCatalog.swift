import Foundation
import HiDiffCore
import HiDiffPipeline
import HiDiffProtocol

/// The models a worker can load, by name: each folder (or `.safetensors` file) under the `--models`
/// directories by its name, plus the bundled demo model as `shapes`.
public struct ModelCatalog: Sendable {
    public struct Entry: Sendable, Equatable {
        public var info: ModelInfo
        public var path: String
        /// Bytes of weights on disk: what loading it costs in memory, roughly.
        public var weightBytes: Int64
    }

    public private(set) var entries: [String: Entry] = [:]

    /// Scans `directories`; a folder is a model if it holds `model_index.json`, a file if it ends in `.safetensors`.
    public init(directories: [String], includeDemo: Bool = true) throws {
        let fm = FileManager.default
        if includeDemo, let demo = try? DemoModel.path() { try add(name: "shapes", path: demo) }
        for directory in directories {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw WorkerError.invalidModels("\(directory) is not a folder; --models takes folders holding one model folder (or .safetensors file) each")
            }
            for item in try fm.contentsOfDirectory(atPath: directory).sorted() {
                let path = "\(directory)/\(item)"
                if fm.fileExists(atPath: "\(path)/model_index.json") {
                    try add(name: item, path: path)
                } else if item.hasSuffix(".safetensors") {
                    try add(name: String(item.dropLast(".safetensors".count)), path: path)
                }
            }
        }
    }

    private mutating func add(name: String, path: String) throws {
        if let existing = entries[name], existing.path != path {
            throw WorkerError.invalidModels("two models are named \(name): \(existing.path) and \(path); rename one")
        }
        entries[name] = Entry(info: Self.describe(name: name, path: path), path: path, weightBytes: Self.size(of: path))
    }

    /// The registration record of every model, sorted by name.
    public var infos: [ModelInfo] { entries.values.map(\.info).sorted { $0.name < $1.name } }

    /// Family and native size from the folder's configs, without loading weights (unknown: "sd", 512).
    static func describe(name: String, path: String) -> ModelInfo {
        func json(_ file: String) -> [String: Any]? {
            guard let data = FileManager.default.contents(atPath: "\(path)/\(file)") else { return nil }
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        }
        let unet = json("unet/config.json")
        let sample = unet?["sample_size"] as? Int ?? 64
        // The VAE halves the size once per block after the first (8 for every released Stable Diffusion VAE).
        let vaeBlocks = (json("vae/config.json")?["block_out_channels"] as? [Any])?.count ?? 4
        let xl = (unet?["addition_embed_type"] as? String) == "text_time"
        let family = xl ? (name.lowercased().contains("turbo") ? "sdxl-turbo" : "sdxl") : "sd"
        return ModelInfo(name: name, family: family, nativeSize: sample << max(vaeBlocks - 1, 0),
                         shape: ModelShape.of(folder: path))
    }

    static func size(of path: String) -> Int64 {
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: path) else {
            return (try? fm.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
        }
        var total: Int64 = 0
        while let item = walker.nextObject() as? String {
            guard item.hasSuffix(".safetensors") || item.hasSuffix(".bin") else { continue }
            total += (try? fm.attributesOfItem(atPath: "\(path)/\(item)")[.size] as? Int64) ?? 0
        }
        return total
    }
}
