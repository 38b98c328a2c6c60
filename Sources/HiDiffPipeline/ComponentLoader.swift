import Foundation
import HiDiffCore
import HiDiffModels

/// Opens model components from a diffusers pipeline folder or from one component's own folder
/// (`config.json` + weights, as `save_pretrained` writes a lone U-Net).
public enum ComponentLoader {
    /// The U-Net of a pipeline folder (`<dir>/unet`) or of a U-Net folder (`<dir>` itself).
    public static func unet(at path: String, precision: Precision = .fp32) throws -> UNet2DConditionModel {
        try precision.checkAvailable()
        let (folder, component) = try locate(path, component: "unet")
        return try UNet2DConditionModel(config: folder.config(component, as: UNetConfig.self),
                                        weights: folder.weights(component).with(precision: precision))
    }

    /// A pipeline folder and the component name inside it; a lone component folder is treated as a
    /// pipeline whose only component is the folder itself.
    static func locate(_ path: String, component: String) throws -> (DiffusersFolder, String) {
        let fm = FileManager.default
        if fm.fileExists(atPath: path + "/model_index.json") {
            return (try DiffusersFolder(path: path), component)
        }
        if fm.fileExists(atPath: path + "/config.json") {
            let url = URL(fileURLWithPath: path).standardizedFileURL
            let parent = url.deletingLastPathComponent().path
            return (DiffusersFolder(unindexed: parent), url.lastPathComponent)
        }
        throw WeightError.notDiffusersFolder(path: path)
    }
}

extension UNet2DConditionModel {
    /// The width of the text tokens the U-Net cross-attends to (`cross_attention_dim`).
    public var crossAttentionDim: Int {
        switch config.crossAttentionDim {
        case let .uniform(v): return v
        case let .perBlock(vs): return vs.first ?? 0
        }
    }
}
