import Foundation
import HiDiffCore
import HiDiffImage
import HiDiffModels

extension ModelShape {
    /// The shape `MemoryEstimate` needs, from a model's U-Net and VAE configs and its weights' float32 bytes.
    public init(unet: UNetConfig, vae: VAEConfig, weightBytes: Int64) {
        self.init(unetChannels: Array(unet.blockOutChannels.prefix(16)),
                  attentionLevels: Array(unet.downBlockTypes.prefix(16)).map { $0.contains("CrossAttn") },
                  unetLayers: min(max(Self.largest(unet.layersPerBlock), 0), 64),
                  vaeChannels: Array(vae.blockOutChannels.prefix(16)),
                  vaeFactor: 1 << max(vae.blockOutChannels.count - 1, 0), weightBytes: weightBytes)
    }

    private static func largest(_ value: PerBlockValue<Int>) -> Int {
        switch value {
        case .uniform(let v): v
        case .perBlock(let list): list.max() ?? 2
        }
    }

    /// The shape of the diffusers folder at `path` from its configs alone (no weights read); nil when they
    /// cannot be read.
    public static func of(folder path: String) -> ModelShape? {
        guard let folder = try? DiffusersFolder(path: path),
              let unet = try? folder.config("unet", as: UNetConfig.self),
              let vae = try? folder.config("vae", as: VAEConfig.self) else { return nil }
        return ModelShape(unet: unet, vae: vae, weightBytes: weightBytes(atPath: path))
    }

    /// Bytes of the safetensors weights under `path` (a folder or one file) once loaded as float32: a file
    /// whose name says fp16 or bf16 counts twice.
    public static func weightBytes(atPath path: String) -> Int64 {
        let fm = FileManager.default
        func bytes(_ file: String) -> Int64 {
            let size = (try? fm.attributesOfItem(atPath: file)[.size] as? Int64) ?? 0
            let name = (file as NSString).lastPathComponent
            return name.contains("fp16") || name.contains("bf16") ? 2 * size : size
        }
        guard let walker = fm.enumerator(atPath: path) else { return bytes(path) }
        var total: Int64 = 0
        while let item = walker.nextObject() as? String {
            if item.hasSuffix(".safetensors") { total += bytes("\(path)/\(item)") }
        }
        return total
    }
}

extension StableDiffusionPipeline {
    /// This model's `ModelShape` (weights counted from the files it was loaded from).
    public var shape: ModelShape {
        ModelShape(unet: unet.config, vae: vae.config, weightBytes: ModelShape.weightBytes(atPath: path))
    }

    /// The estimated peak memory of each of `parts` machines rendering `request` together (`MemoryEstimate`).
    ///
    /// - Throws: `PipelineError.invalidRequest` for a request `validate()` refuses or a size this model cannot make.
    public func estimatedPeakBytes(_ request: GenerationRequest, initImage: RGBImage?, parts: Int = 1) throws -> Int64 {
        try request.validate()
        let (width, height) = try resolveSize(request, initImage: initImage)
        return MemoryEstimate.perWorker(shape, width: width, height: height, batch: request.guidanceScale > 1 ? 2 : 1,
                                        parts: parts)
    }

    /// Throws `PipelineError.overMemory` (with `hint`) when `request`'s estimated peak on each of `parts`
    /// machines exceeds `limit` bytes.
    public func checkMemory(_ request: GenerationRequest, initImage: RGBImage?, parts: Int = 1, limit: Int64,
                            hint: String) throws {
        let needed = try estimatedPeakBytes(request, initImage: initImage, parts: parts)
        guard needed <= limit else { throw PipelineError.overMemory(needed: needed, limit: limit, hint: hint) }
    }
}
