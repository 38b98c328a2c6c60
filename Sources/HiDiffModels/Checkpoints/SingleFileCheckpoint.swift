import Foundation

/// A whole Stable Diffusion model in one `.safetensors` file, in the original (A1111 / ComfyUI) layout,
/// read through diffusers' names.
///
/// Opening maps the file and reads only its header; the layout (SD 1.x, SD 2.x, SDXL) is detected from the
/// tensor names. `weights(_:)` gives each component's tensors under diffusers' names, converted one tensor at
/// a time when a model loads it (F16/BF16 -> F32, OpenCLIP's fused attention split, 1x1 convolutions to
/// linear weights), so a 6.9 GB fp16 SDXL file is never read into memory as a whole.
///
/// The configs of full-size checkpoints are derived from tensor shapes plus each family's conventions
/// (`derivedConfigs()`); models that break those conventions (e.g. the tiny test models) need their configs
/// from a diffusers folder instead, as diffusers' own `from_single_file(config=...)` does.
public struct SingleFileCheckpoint: Sendable {
    /// Pipeline components a single file holds.
    public enum Component: String, Sendable, CaseIterable {
        case unet, vae
        case textEncoder = "text_encoder"
        case textEncoder2 = "text_encoder_2"
    }

    public let path: String
    public let file: SafeTensorsFile
    public let layout: CheckpointLayout
    /// `layers_per_block` of the U-Net, read off the positions of its downsamplers.
    public let unetLayersPerBlock: Int
    private let recipes: [Component: [String: TensorRecipe]]

    /// Opens `path` and detects its layout.
    ///
    /// - Throws: `WeightError` for a missing, unreadable or truncated file; `CheckpointError.unknownLayout`
    ///   listing the top-level prefixes and a few names when the tensors match no known layout.
    public init(path: String) throws {
        let file = try SafeTensorsFile(path: path)
        let names = file.names
        guard let layout = CheckpointLayout.detect(names) else {
            throw CheckpointError.unknownLayout(file: path, prefixes: Self.prefixSummary(names),
                                                examples: Array(names.sorted().prefix(5)))
        }
        func under(_ prefix: String) -> [String] {
            names.compactMap { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : nil }
        }
        let unet = StableDiffusionKeyMap.unet(under(CheckpointLayout.unetPrefix), prefix: CheckpointLayout.unetPrefix)
        var recipes: [Component: [String: TensorRecipe]] = [
            .unet: unet.recipes,
            .vae: StableDiffusionKeyMap.vae(under(CheckpointLayout.vaePrefix), prefix: CheckpointLayout.vaePrefix),
        ]
        let te = layout.textEncoderPrefix
        recipes[.textEncoder] = layout.firstEncoderIsOpenCLIP
            ? StableDiffusionKeyMap.openCLIP(under(te), prefix: te)
            : StableDiffusionKeyMap.clip(under(te), prefix: te)
        if let te2 = layout.textEncoder2Prefix {
            recipes[.textEncoder2] = StableDiffusionKeyMap.openCLIP(under(te2), prefix: te2)
        }
        self.path = path
        self.file = file
        self.layout = layout
        self.unetLayersPerBlock = unet.layersPerBlock
        self.recipes = recipes
    }

    /// The components this file holds (`textEncoder2` only for SDXL).
    public var components: [Component] { Component.allCases.filter { recipes[$0] != nil } }

    /// The tensors of `component` under diffusers' names (nil when the layout has no such component).
    public func source(_ component: Component) -> TransformedSource? {
        recipes[component].map { TransformedSource(file, recipes: $0) }
    }

    /// `source(_:)` as `Weights`; throws `CheckpointError.unsupportedVariant` when the layout lacks it.
    public func weights(_ component: Component) throws -> Weights {
        guard let s = source(component) else {
            throw CheckpointError.unsupportedVariant(file: path, reason: "a \(layout.rawValue) checkpoint has no \(component.rawValue)")
        }
        return Weights(s)
    }

    /// "prefix (count)" for the first two components of every name, most frequent first.
    static func prefixSummary(_ names: [String]) -> [String] {
        var counts: [String: Int] = [:]
        for n in names {
            let parts = n.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
            let head = parts.count > 2 ? parts.prefix(2).joined(separator: ".") : n
            counts[head, default: 0] += 1
        }
        return counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(12).map { "\($0.key) (\($0.value))" }
    }
}
