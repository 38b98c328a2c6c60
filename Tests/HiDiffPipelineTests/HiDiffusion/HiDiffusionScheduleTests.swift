import HiDiffModels
import HiDiffPipeline
import HiDiffTestSupport
import XCTest

/// RAU-Net's pure switching logic against the authors' operators (`cases.json` "table": which of ops A/B/C
/// their patched modules ran at every k, for N in {1, 4, 10, 20, 25, 30, 50, 90} and latents
/// {64, 128, 192x256, 256, 512, 512x256}), plus the spec's worked examples.
final class HiDiffusionScheduleTests: XCTestCase {
    /// Op bits as the oracle writes them: 1 = RAD conv, 2 = pool, 4 = bicubic.
    static func code(_ step: HiDiffusionSchedule.Step, layout: HiDiffusionLayout) -> Character {
        var bits = 0
        if let r = layout.radDownBlock, step.downsamplerGeometry[r] == .resolutionAwareDownsampler { bits |= 1 }
        // Ops B and C share one switch (`pooledDownBlocks`); the oracle checks them separately.
        if step.pooledDownBlocks.contains(layout.pooledDownBlock) { bits |= 6 }
        precondition(step.downsamplerGeometry.count <= 1 && step.pooledDownBlocks.count <= 1)
        return Array("0123456789abcdef")[bits]
    }

    func schedule(_ family: ModelFamily, native: Int, _ settings: HiDiffusionSettings, name: String?)
        -> HiDiffusionSchedule {
        HiDiffusionSchedule(family: family, nativeLatentSize: native, settings: settings, modelName: name)
    }

    func codes(_ s: HiDiffusionSchedule, n: Int, h: Int, w: Int) -> String {
        String((0..<n).map { Self.code(s.context(callIndex: $0, callCount: n, latentHeight: h, latentWidth: w),
                                       layout: s.layout) })
    }

    func testTableMatchesAuthorsOperators() throws {
        let root = try XCTUnwrap(Fixtures.json("hidiffusion/cases.json") as? [String: Any])
        let table = try XCTUnwrap(root["table"] as? [String: [String: Any]])
        XCTAssertEqual(table.count, 11)
        var compared = 0
        for (variant, entry) in table.sorted(by: { $0.key < $1.key }) {
            let family = try XCTUnwrap(ModelFamily(rawValue: entry["family"] as! String))
            let name = entry["name"] as? String
            var settings = HiDiffusionSettings(thresholds: .reference)
            if let forced = entry["aggressive"] as? Bool { settings.aggressive = forced ? .on : .off }
            settings.t1Ratio = entry["t1_ratio"] as? Double
            settings.t2Ratio = entry["t2_ratio"] as? Double
            // The official native sizes, where the relative rule must agree with the authors' absolute one.
            let native = family == .sd ? 64 : (family == .sdxl ? 128 : 64)
            var relative = settings
            relative.thresholds = .relative
            let sizes = try XCTUnwrap(entry["table"] as? [String: [String: String]])
            XCTAssertEqual(sizes.count, 6)
            for (size, perN) in sizes {
                let hw = size.split(separator: "x").map { Int($0)! }
                XCTAssertEqual(perN.count, 8)
                for (nText, expected) in perN {
                    let n = Int(nText)!
                    for s in [settings, relative] {
                        let got = codes(schedule(family, native: native, s, name: name), n: n, h: hw[0], w: hw[1])
                        XCTAssertEqual(got, expected, "\(variant) \(size) N=\(n) thresholds=\(s.thresholds)")
                        compared += n
                    }
                }
            }
        }
        XCTAssertEqual(compared, 11 * 6 * 230 * 2)
    }

    /// hidiffusion-spec.md §1.4-§1.5 and §6, N = 50 unless noted.
    func testSpecExamples() {
        let sd = schedule(.sd, native: 64, HiDiffusionSettings(), name: nil)
        XCTAssertEqual(sd.phases(callCount: 50, latentHeight: 128, latentWidth: 128),
                       .init(rad: 0..<20, pool: 0..<0))
        XCTAssertEqual(sd.phases(callCount: 50, latentHeight: 256, latentWidth: 256),
                       .init(rad: 0..<35, pool: 0..<15))
        // 0.7 * 90 = 62.99999999999999 truncates to 62 (and 0.3 * 90 = 27).
        XCTAssertEqual(sd.phases(callCount: 90, latentHeight: 256, latentWidth: 256),
                       .init(rad: 0..<62, pool: 0..<27))
        XCTAssertEqual(sd.phases(callCount: 170, latentHeight: 256, latentWidth: 256).rad, 0..<118)
        XCTAssertEqual(sd.context(callIndex: 0, callCount: 50, latentHeight: 256, latentWidth: 256),
                       .init(downsamplerGeometry: [0: .resolutionAwareDownsampler], pooledDownBlocks: [1]))

        let xl = schedule(.sdxl, native: 128, HiDiffusionSettings(), name: "stabilityai/stable-diffusion-xl-base-1.0")
        XCTAssertEqual(xl.phases(callCount: 50, latentHeight: 256, latentWidth: 256), .init(rad: 0..<8, pool: 8..<20))
        XCTAssertEqual(xl.context(callIndex: 7, callCount: 50, latentHeight: 256, latentWidth: 256),
                       .init(downsamplerGeometry: [1: .resolutionAwareDownsampler], pooledDownBlocks: []))
        XCTAssertEqual(xl.context(callIndex: 8, callCount: 50, latentHeight: 256, latentWidth: 256),
                       .init(downsamplerGeometry: [:], pooledDownBlocks: [1]))
        // N = 4: int(0.64) = 0, no RAD phase; pool for k = 0 only.
        XCTAssertEqual(xl.phases(callCount: 4, latentHeight: 256, latentWidth: 256), .init(rad: 0..<0, pool: 0..<1))
        // Fresh 4096: pool k < 35, RAD k < 15, not aggressive.
        XCTAssertEqual(xl.phases(callCount: 50, latentHeight: 512, latentWidth: 512), .init(rad: 0..<15, pool: 0..<35))
        XCTAssertFalse(xl.plan(latentHeight: 512, latentWidth: 512).aggressive)
        // Inpainting / playground names are never aggressive.
        let inpaint = schedule(.sdxl, native: 128, HiDiffusionSettings(),
                               name: "diffusers/stable-diffusion-xl-1.0-inpainting-0.1")
        XCTAssertEqual(inpaint.phases(callCount: 50, latentHeight: 256, latentWidth: 256), .init(rad: 0..<0, pool: 0..<20))

        let turbo = schedule(.sdxlTurbo, native: 64, HiDiffusionSettings(), name: nil)
        XCTAssertEqual(turbo.phases(callCount: 4, latentHeight: 128, latentWidth: 128), .init(rad: 0..<0, pool: 0..<2))
        XCTAssertEqual(turbo.phases(callCount: 1, latentHeight: 128, latentWidth: 128), .init(rad: 0..<0, pool: 0..<0))
        XCTAssertEqual(turbo.thresholdEntry(latentHeight: 512, latentWidth: 512), .turbo)
    }

    /// No resolution gate: the operators also run at the native size (the authors have none either).
    func testNoResolutionGate() {
        let sd = schedule(.sd, native: 64, HiDiffusionSettings(), name: nil)
        XCTAssertEqual(sd.context(callIndex: 0, callCount: 50, latentHeight: 64, latentWidth: 64).downsamplerGeometry,
                       [0: .resolutionAwareDownsampler])
    }

    /// The relative rule picks by scale over the native size; the reference rule by absolute size.
    func testRelativeThresholdsFollowNativeSize() {
        let rel = schedule(.sd, native: 96, HiDiffusionSettings(thresholds: .relative), name: nil)  // SD 2.x-768
        let ref = schedule(.sd, native: 96, HiDiffusionSettings(thresholds: .reference), name: nil)
        XCTAssertEqual(rel.thresholdEntry(latentHeight: 256, latentWidth: 256), .sd2x)
        XCTAssertEqual(ref.thresholdEntry(latentHeight: 256, latentWidth: 256), .sd4x)
        XCTAssertEqual(rel.thresholdEntry(latentHeight: 384, latentWidth: 400), .sd4x)
        XCTAssertEqual(rel.thresholdEntry(latentHeight: 383, latentWidth: 800), .sd2x)
        // Tiny models (native 8): latent 32 is 4x.
        let tiny = schedule(.sdxl, native: 8, HiDiffusionSettings(), name: nil)
        XCTAssertEqual(tiny.thresholdEntry(latentHeight: 32, latentWidth: 32), .sdxl4x)
        XCTAssertTrue(tiny.plan(latentHeight: 31, latentWidth: 64).aggressive)
        XCTAssertFalse(tiny.plan(latentHeight: 32, latentWidth: 64).aggressive)
    }

    /// Fresh semantics: a 4096 generation after a 2048 one is not aggressive (the authors' quirk Q1 would make
    /// it so), and the same call gives the same answer whatever ran before.
    func testNoStateBetweenGenerations() {
        let xl = schedule(.sdxl, native: 128, HiDiffusionSettings(), name: nil)
        let before = xl.context(callIndex: 3, callCount: 50, latentHeight: 512, latentWidth: 512)
        _ = (0..<50).map { xl.context(callIndex: $0, callCount: 50, latentHeight: 256, latentWidth: 256) }
        XCTAssertEqual(xl.context(callIndex: 3, callCount: 50, latentHeight: 512, latentWidth: 512), before)
        XCTAssertEqual(before, .init(downsamplerGeometry: [1: .resolutionAwareDownsampler], pooledDownBlocks: [1]))
        // The leaked state on purpose: aggressive forced on at 4096 -> RAD k < 8, then pool until 35.
        var on = xl
        on.settings.aggressive = .on
        XCTAssertEqual(on.phases(callCount: 50, latentHeight: 512, latentWidth: 512), .init(rad: 0..<8, pool: 8..<35))
    }

    func testSwitchesAndOverrides() {
        let off = schedule(.sd, native: 64, HiDiffusionSettings(raunet: false), name: nil)
        XCTAssertEqual(off.context(callIndex: 0, callCount: 50, latentHeight: 256, latentWidth: 256), .vanilla)
        let tuned = schedule(.sd, native: 64, HiDiffusionSettings(t1Ratio: 0.5, t2Ratio: 0.2), name: nil)
        XCTAssertEqual(tuned.phases(callCount: 30, latentHeight: 128, latentWidth: 128), .init(rad: 0..<15, pool: 0..<6))
        // img2img: N is the truncated count (e.g. 50 steps at strength 0.6 -> 30 calls).
        XCTAssertEqual(off.phases(callCount: 0, latentHeight: 128, latentWidth: 128), .init(rad: 0..<0, pool: 0..<0))
    }

    func testLayouts() {
        let sd = HiDiffusionLayout(family: .sd)
        XCTAssertEqual(sd.windowBlocks.map(\.description), [
            "down_blocks.0.attentions.0.transformer_blocks.0", "down_blocks.0.attentions.1.transformer_blocks.0",
            "up_blocks.3.attentions.0.transformer_blocks.0", "up_blocks.3.attentions.1.transformer_blocks.0",
            "up_blocks.3.attentions.2.transformer_blocks.0"])
        XCTAssertEqual(sd.bicubicUpBlock, 2)
        let xl = HiDiffusionLayout(family: .sdxl)
        XCTAssertEqual(xl.windowBlocks.count, 10)
        XCTAssertEqual(xl.windowBlocks[3].description, "down_blocks.1.attentions.1.transformer_blocks.1")
        XCTAssertEqual(xl.windowBlocks[9].description, "up_blocks.1.attentions.2.transformer_blocks.1")
        XCTAssertEqual(xl.bicubicUpBlock, 1)
        XCTAssertNil(HiDiffusionLayout(family: .sdxlTurbo).radDownBlock)
    }
}
