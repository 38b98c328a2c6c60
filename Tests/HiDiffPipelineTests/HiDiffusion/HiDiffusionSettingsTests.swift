import Foundation
import HiDiffCore
import HiDiffModels
import HiDiffPipeline
import HiDiffTestSupport
import XCTest

final class HiDiffusionSettingsTests: XCTestCase {
    func testCodableRoundTripAndReadableShift() throws {
        let settings = HiDiffusionSettings(raunet: true, windowAttention: false, t1Ratio: 0.5, aggressive: .off,
                                           thresholds: .reference, windowShift: .fixed(2))
        let data = try JSONEncoder().encode(settings)
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertTrue(text.contains("\"windowShift\":\"2\""), text)
        XCTAssertEqual(try JSONDecoder().decode(HiDiffusionSettings.self, from: data), settings)
        XCTAssertThrowsError(try JSONDecoder().decode(HiDiffusionSettings.WindowShift.self, from: Data("\"7\"".utf8)))
        // The whole-run fixtures' partial settings: missing keys take the defaults.
        let partial = try JSONDecoder().decode(HiDiffusionSettings.self,
                                               from: Data(#"{"thresholds": "reference", "aggressive": "on"}"#.utf8))
        XCTAssertEqual(partial, HiDiffusionSettings(aggressive: .on, thresholds: .reference))
        XCTAssertEqual(HiDiffusionSettings.WindowShift("seeded"), .seeded)
        XCTAssertEqual(HiDiffusionSettings.WindowShift("3"), .fixed(3))
        XCTAssertNil(HiDiffusionSettings.WindowShift("4"))
        XCTAssertEqual(settings.description,
                       "raunet=on window-attn=off thresholds=reference aggressive=off msw-shift=2 t1-ratio=0.5")
    }

    func testValidation() {
        XCTAssertNoThrow(try HiDiffusionSettings().validate())
        XCTAssertThrowsError(try HiDiffusionSettings(t2Ratio: 1.5).validate()) { error in
            XCTAssertEqual(error as? HiDiffusionError,
                           .invalidSetting(name: "t2-ratio", value: "1.5", expected: "a number in 0...1"))
        }
        XCTAssertThrowsError(try HiDiffusionSettings(windowShift: .fixed(-1)).validate())
        XCTAssertThrowsError(try HiDiffusion(family: .sd, nativeLatentSize: 64,
                                             settings: HiDiffusionSettings(t1Ratio: .nan), seed: 0))
    }

    /// Seeded shifts: a pure function of (seed, call, block), each bucket about a quarter of the time.
    func testSeededShifts() {
        let a = WindowShiftSource.seeded(1234), b = WindowShiftSource.seeded(1234), c = WindowShiftSource.seeded(1235)
        var counts = [0, 0, 0, 0]
        var differs = 0
        for k in 0..<400 {
            for ordinal in 0..<10 {
                let q = a.bucket(callIndex: k, ordinal: ordinal)
                XCTAssertEqual(q, b.bucket(callIndex: k, ordinal: ordinal))
                counts[q] += 1
                if q != c.bucket(callIndex: k, ordinal: ordinal) { differs += 1 }
            }
        }
        for n in counts { XCTAssertEqual(Double(n) / 4000, 0.25, accuracy: 0.03, "\(counts)") }
        XCTAssertEqual(Double(differs) / 4000, 0.75, accuracy: 0.05)
        // Blocks of one call and calls of one block do not repeat in lockstep.
        XCTAssertGreaterThan(Set((0..<10).map { a.bucket(callIndex: 0, ordinal: $0) }).count, 1)
        XCTAssertGreaterThan(Set((0..<10).map { a.bucket(callIndex: $0, ordinal: 0) }).count, 1)
    }

    /// The maps the window blocks see (the oracle's odd cases: SD 61x47 at level 0; SDXL 61x61 -> 31 at level 1,
    /// 16 when pooled) and the plan summary.
    func testWindowMapSizesAndSummary() throws {
        let sd = try HiDiffusion(family: .sd, nativeLatentSize: 64, settings: HiDiffusionSettings(), seed: 0)
        XCTAssertEqual(sd.windowMapSizes(callCount: 50, latentHeight: 61, latentWidth: 47).map { [$0.height, $0.width] },
                       [[61, 47]])
        XCTAssertTrue(sd.windowAttentionResizes(callCount: 50, latentHeight: 61, latentWidth: 47))
        XCTAssertFalse(sd.windowAttentionResizes(callCount: 50, latentHeight: 128, latentWidth: 96))
        let xl = try HiDiffusion(family: .sdxl, nativeLatentSize: 128, settings: HiDiffusionSettings(), seed: 0)
        XCTAssertEqual(xl.windowMapSizes(callCount: 50, latentHeight: 61, latentWidth: 61).map { [$0.height, $0.width] },
                       [[31, 31], [16, 16]])
        XCTAssertTrue(xl.windowAttentionResizes(callCount: 50, latentHeight: 61, latentWidth: 61))
        // 256: level 1 at 128, pooled 64; 200: 100 and 50 (even) -> no resize; 196: 98 and 49 -> resize.
        XCTAssertFalse(xl.windowAttentionResizes(callCount: 50, latentHeight: 200, latentWidth: 256))
        XCTAssertTrue(xl.windowAttentionResizes(callCount: 50, latentHeight: 196, latentWidth: 256))
        // Without a pool phase (N = 1: int(0.4) = 0) the pooled size never occurs.
        XCTAssertEqual(xl.windowMapSizes(callCount: 1, latentHeight: 196, latentWidth: 256).count, 1)
        XCTAssertEqual(xl.summary(callCount: 50, latentHeight: 256, latentWidth: 256),
                       "entry=sdxl_2048 t1=0.4 t2=0.0 aggressive=true rad=0..<8 pool=8..<20 window-attn=seeded")
        let off = try HiDiffusion(family: .sd, nativeLatentSize: 64, settings: HiDiffusionSettings(raunet: false,
                                  windowShift: .fixed(1)), seed: 0)
        XCTAssertEqual(off.summary(callCount: 50, latentHeight: 128, latentWidth: 128),
                       "entry=sd15_1024 t1=0.4 t2=0.0 aggressive=false raunet=off window-attn=1")
    }

    func testLayoutValidation() throws {
        func config(_ folder: String) throws -> UNetConfig {
            try JSONDecoder().decode(UNetConfig.self, from: Data(contentsOf: Fixtures.url("\(folder)/config.json")))
        }
        let sd = try config("models/sd15-tiny/unet"), xl = try config("models/sdxl-tiny-unet")
        let on = HiDiffusionSettings()
        XCTAssertNoThrow(try HiDiffusion(family: .sd, nativeLatentSize: 8, settings: on, seed: 0).validate(sd))
        XCTAssertNoThrow(try HiDiffusion(family: .sdxl, nativeLatentSize: 16, settings: on, seed: 0).validate(xl))
        XCTAssertNoThrow(try HiDiffusion(family: .sdxlTurbo, nativeLatentSize: 16, settings: on, seed: 0).validate(xl))
        XCTAssertThrowsError(try HiDiffusion(family: .sdxl, nativeLatentSize: 16, settings: on, seed: 0).validate(sd)) {
            XCTAssertTrue("\($0)".contains("expected 3 U-Net levels"), "\($0)")
        }
        XCTAssertThrowsError(try HiDiffusion(family: .sd, nativeLatentSize: 16, settings: on, seed: 0).validate(xl))
        // Off: nothing to check.
        XCTAssertNoThrow(try HiDiffusion(family: .sd, nativeLatentSize: 16, settings: .disabled, seed: 0).validate(xl))
    }
}
