import Foundation
import HiDiffCore
import HiDiffModels
import HiDiffTestSupport
import XCTest

/// Opt-in: the real SDXL U-Net config (2.57 B parameters, seeded random fp16-exact weights, stored F16) against
/// diffusers at a small latent. Needs ~11 GB of RAM and the folder written by
/// `make_sdxl_fixtures.py --fullsize DIR`; `ops/test` runs it only with
/// `HIDIFF_FULLSIZE_SDXL=DIR`; asked for without it, it fails.
final class SDXLFullSizeTests: XCTestCase {
    func testFullSizeSDXLUNetMatchesDiffusers() throws {
        guard let dir = ProcessInfo.processInfo.environment["HIDIFF_FULLSIZE_SDXL"], !dir.isEmpty else {
            return XCTFail("set HIDIFF_FULLSIZE_SDXL to the folder written by make_sdxl_fixtures.py --fullsize")
        }
        let folder = DiffusersFolder(unindexed: dir)
        let config = try folder.config("unet", as: UNetConfig.self)
        XCTAssertEqual(config.blockOutChannels, [320, 640, 1280])
        XCTAssertEqual(config.transformerLayersPerBlock, .perBlock([1, 2, 10]))
        let t0 = ProcessStats.now()
        let unet = try UNet2DConditionModel(config: config, weights: folder.weights("unet"))
        let load = ProcessStats.now() - t0
        let ref = try SafeTensorsFile(path: dir + "/unet_forward.safetensors")
        let t1 = ProcessStats.now()
        let out = try unet(try ref.load("sample"), timestep: 500, encoderHiddenStates: try ref.load("encoder_hidden_states"),
                           added: UNetAddedConditions(textEmbeds: try ref.load("text_embeds"),
                                                      timeIds: try ref.load("time_ids")))
        let forward = ProcessStats.now() - t1
        let err = relativeError(out, try ref.load("out"))
        print("SDXL full size: load \(load) s, b1 32x32 forward \(forward) s, relative error \(err), peak RSS "
              + "\(Double(ProcessStats.peakResidentBytes() ?? -1) / 1e9) GB")
        XCTAssertLessThanOrEqual(err, 1e-4)
    }
}
