import Foundation
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

    /// The pipeline for `name`, loading it (and evicting others) if needed. Called from compute threads.
    public func pipeline(named name: String) throws -> StableDiffusionPipeline {
        guard let entry = catalog.entries[name] else {
            throw WorkerError.unknownModel(name, known: catalog.infos.map(\.name))
        }
        if let hit = state.withLock({ s -> StableDiffusionPipeline? in
            guard let p = s.loaded[name] else { return nil }
            s.order.removeAll { $0 == name }
            s.order.append(name)
            return p
        }) { return hit }
        guard entry.weightBytes <= memoryLimit else {
            throw WorkerError.overMemory(model: name, needs: entry.weightBytes, limit: memoryLimit)
        }
        state.withLock { s in
            // Make room first, so two models never sit in memory past the budget.
            var used = s.order.reduce(Int64(0)) { $0 + (catalog.entries[$1]?.weightBytes ?? 0) }
            while used + entry.weightBytes > memoryLimit, let oldest = s.order.first {
                s.order.removeFirst()
                s.loaded[oldest] = nil
                used -= catalog.entries[oldest]?.weightBytes ?? 0
            }
        }
        let pipeline = try StableDiffusionPipeline(path: entry.path)
        state.withLock { s in
            s.loaded[name] = pipeline
            s.order.removeAll { $0 == name }
            s.order.append(name)
        }
        return pipeline
    }
}
