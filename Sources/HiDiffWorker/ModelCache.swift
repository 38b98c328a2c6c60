import Foundation
import HiDiffCore
import HiDiffPipeline
import Synchronization

/// Loaded pipelines kept between jobs within the worker's memory budget; the least recently used goes first.
public final class ModelCache: Sendable {
    private struct State {
        var loaded: [String: StableDiffusionPipeline] = [:]
        var order: [String] = []
    }

    public let catalog: ModelCatalog
    public let memoryLimit: Int64
    private let state = Mutex(State())

    public init(catalog: ModelCatalog, memoryLimit: Int64) {
        self.catalog = catalog
        self.memoryLimit = memoryLimit
    }

    /// The pipeline for `name` at `precision`, loading it (and evicting others) if needed. Called from compute
    /// threads. Each precision is its own entry (a bfloat16 copy holds half the layer weights; the budget
    /// counts the float32 size for both, erring on the safe side).
    public func pipeline(named name: String, precision: Precision = .fp32) throws -> StableDiffusionPipeline {
        guard let entry = catalog.entries[name] else {
            throw WorkerError.unknownModel(name, known: catalog.infos.map(\.name))
        }
        let key = precision == .fp32 ? name : name + "@" + precision.rawValue
        if let hit = state.withLock({ s -> StableDiffusionPipeline? in
            guard let p = s.loaded[key] else { return nil }
            s.order.removeAll { $0 == key }
            s.order.append(key)
            return p
        }) { return hit }
        guard entry.weightBytes <= memoryLimit else {
            throw WorkerError.overMemory(model: name, needs: entry.weightBytes, limit: memoryLimit)
        }
        state.withLock { s in
            // Make room first, so two models never sit in memory past the budget.
            var used = s.order.reduce(Int64(0)) { $0 + (catalog.entries[Self.model(ofKey: $1)]?.weightBytes ?? 0) }
            while used + entry.weightBytes > memoryLimit, let oldest = s.order.first {
                s.order.removeFirst()
                s.loaded[oldest] = nil
                used -= catalog.entries[Self.model(ofKey: oldest)]?.weightBytes ?? 0
            }
        }
        let pipeline = try StableDiffusionPipeline(path: entry.path, precision: precision)
        state.withLock { s in
            s.loaded[key] = pipeline
            s.order.removeAll { $0 == key }
            s.order.append(key)
        }
        return pipeline
    }

    /// The model name of a cache key ("name" or "name@bf16").
    private static func model(ofKey key: String) -> String {
        key.split(separator: "@", maxSplits: 1).first.map(String.init) ?? key
    }
}
