import Foundation
import HiDiffSchedulers

/// The PNG text chunks that record how an image was made: an A1111-style `parameters` chunk and the full
/// request as JSON in a `hidiff` chunk.
public struct GenerationMetadata: Sendable {
    public var request: GenerationRequest
    public var model: String
    public var family: ModelFamily
    public var scheduler: SchedulerKind
    public var width: Int
    public var height: Int
    /// Whether HiDiffusion ran, with the family whose layout it used.
    public var hidiffusionActive: Bool
    public var hidiffusionFamily: ModelFamily

    public init(request: GenerationRequest, pipeline: StableDiffusionPipeline, width: Int, height: Int) {
        self.request = request
        model = URL(fileURLWithPath: pipeline.path).lastPathComponent
        family = pipeline.family
        scheduler = (try? request.scheduler ?? pipeline.schedulerConfig.defaultKind()) ?? .pndm
        self.width = width
        self.height = height
        hidiffusionActive = request.hidiffusionSettings.isEnabled
            && request.hidiffusion.isActive(width: width, height: height, nativeSize: pipeline.nativeSize)
        hidiffusionFamily = request.family ?? pipeline.family
    }

    /// A1111's `parameters` text: prompt, negative prompt line, then comma-separated settings.
    public var parameters: String {
        var lines = [request.prompt]
        if !request.negativePrompt.isEmpty { lines.append("Negative prompt: \(request.negativePrompt)") }
        var settings = [
            "Steps: \(request.steps)", "Sampler: \(scheduler.rawValue)\(request.karras ? " karras" : "")",
            "CFG scale: \(request.guidanceScale)", "Seed: \(request.seed)", "Size: \(width)x\(height)",
            "Model: \(model)",
        ]
        if request.initImage != nil { settings.append("Denoising strength: \(request.strength)") }
        if request.precision != .fp32 { settings.append("Precision: \(request.precision)") }
        settings.append(hidiffusionActive
            ? "HiDiffusion: \(hidiffusionFamily.rawValue) \(request.hidiffusionSettings)" : "HiDiffusion: off")
        lines.append(settings.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    /// The full request plus what was resolved from the model, as JSON.
    public func json() throws -> String {
        struct Record: Encodable {
            var request: GenerationRequest
            var model: String
            var family: ModelFamily
            var scheduler: SchedulerKind
            var width: Int
            var height: Int
            var hidiffusionActive: Bool
            var software = "hidiff"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(Record(request: request, model: model, family: family, scheduler: scheduler,
                                             width: width, height: height, hidiffusionActive: hidiffusionActive))
        return String(decoding: data, as: UTF8.self)
    }

    /// The chunks to write: `parameters` and `hidiff`.
    public func textChunks() throws -> [(key: String, value: String)] {
        [("parameters", parameters), ("hidiff", try json())]
    }
}
