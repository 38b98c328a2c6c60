import Foundation
import HiDiffCore
import HiDiffImage
import HiDiffModels
import HiDiffPipeline
import HiDiffProtocol
import HiDiffStore

/// How many workers a job submitted without `--workers` needs: the fewest whose per-worker memory
/// estimate (`MemoryEstimate`, from the model's shape the worker announced) fits the claiming worker's
/// memory, up to what the image's height allows (`StripePlan`'s rule: every stripe but the last a multiple
/// of the U-Net's total downsampling, four times that with HiDiffusion). Workers are assumed alike.
enum GroupSizing {
    enum Decision: Equatable {
        case fits(Int)
        case cannotFit(String)
    }

    static func choose(_ job: ClaimedJob, leader: WorkerInfo) -> Decision {
        guard let model = leader.models.first(where: { $0.name == job.model }), let shape = model.shape,
              let request = try? GenerationRequest(json: Data(job.requestJSON.utf8)) else {
            return .fits(1)
        }
        // img2img renders at the init image's size (its header is enough); txt2img defaults to the native size.
        let initSize = job.initImage.flatMap(PNGReader.declaredSize)
        let width = request.width ?? initSize?.width ?? model.nativeSize
        let height = request.height ?? initSize?.height ?? model.nativeSize
        let hidiffusion = request.hidiffusion.isActive(width: width, height: height, nativeSize: model.nativeSize)
        let unit = StripePlan.unit(levels: shape.unetChannels.count, hidiffusion: hidiffusion)
        let most = min(64, StripePlan.maxParts(latentHeight: max(height / max(shape.vaeFactor, 1), 1), unit: unit))
        let batch = request.guidanceScale > 1 ? 2 : 1
        if let k = MemoryEstimate.parts(for: shape, width: width, height: height, batch: batch,
                                        memory: leader.memoryBytes, maxParts: most) {
            return .fits(k)
        }
        func gib(_ bytes: Int64) -> String { String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }
        let one = MemoryEstimate.perWorker(shape, width: width, height: height, batch: batch, parts: 1)
        let split = MemoryEstimate.perWorker(shape, width: width, height: height, batch: batch, parts: most)
        return .cannotFit("a \(width)x\(height) image of \(job.model) needs about \(gib(one)) on one worker and "
            + "\(gib(split)) on each of \(most) (the most this height can be split into); the workers offer "
            + "\(gib(leader.memoryBytes)) each: use workers with more memory (--memory) or a smaller image")
    }
}
