import Foundation
import HiDiffCore
import HiDiffModels
import HiDiffTestSupport
import XCTest

/// Opt-in: the real SD 1.5 U-Net config (860 M parameters, seeded random weights, 3.4 GB F32) against diffusers
/// at a 64x64 latent, batch 1 (the fixture `tools/reference/make_fullsize.py` writes). At this size every fast
/// path runs at its real shapes: Winograd convolutions at 64x64 down to 16x16, tiled attention over 4096 keys.
/// Needs ~7 GB of RAM; `ops/test` runs it only with `HIDIFF_FULLSIZE=DIR` (asked for without it, it fails),
/// DIR holding `unet/`, `unet_forward.safetensors`
/// (sample, encoder_hidden_states, out) and `fullsize.json` (the timestep).
final class FullSizeUNetTests: XCTestCase {
    func testFullSizeSD15UNetMatchesDiffusers() throws {
        guard let dir = ProcessInfo.processInfo.environment["HIDIFF_FULLSIZE"], !dir.isEmpty else {
            return XCTFail("set HIDIFF_FULLSIZE to the folder written by tools/reference/make_fullsize.py "
                          + "--family sd15 --out DIR (e.g. HIDIFF_FULLSIZE=/work/fullsize/sd15)")
        }
        let info = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/fullsize.json")))
                as? [String: Any], "\(dir)/fullsize.json is not a JSON object")
        XCTAssertEqual(info["family"] as? String, "sd15", "\(dir)/fullsize.json: family")
        let timestep = try XCTUnwrap(info["timestep"] as? Double, "\(dir)/fullsize.json: timestep")
        let folder = DiffusersFolder(unindexed: dir)
        let config = try folder.config("unet", as: UNetConfig.self)
        XCTAssertEqual(config.blockOutChannels, [320, 640, 1280, 1280])
        let t0 = ProcessStats.now()
        let unet = try UNet2DConditionModel(config: config, weights: folder.weights("unet"))
        let load = ProcessStats.now() - t0
        let ref = try SafeTensorsFile(path: dir + "/unet_forward.safetensors")
        let sample = try ref.load("sample")
        XCTAssertEqual(sample.shape, [1, 4, 64, 64])
        let (t1, c1) = (ProcessStats.now(), ProcessStats.cpuSeconds())
        let out = try unet(sample, timestep: Float(timestep), encoderHiddenStates: try ref.load("encoder_hidden_states"))
        let (forward, cpu) = (ProcessStats.now() - t1, ProcessStats.cpuSeconds() - c1)
        let expected = try ref.load("out")
        XCTAssertEqual(out.shape, expected.shape)
        guard out.shape == expected.shape else { return }
        let err = relativeError(out, expected)
        print("SD 1.5 full size: load \(load) s, b1 64x64 forward \(forward) s wall, \(cpu) CPU-s; "
              + "max abs error / max abs reference = \(err); peak RSS "
              + "\(Double(ProcessStats.peakResidentBytes() ?? -1) / 1e9) GB")
        XCTAssertLessThanOrEqual(err, 1e-4)
    }
}
