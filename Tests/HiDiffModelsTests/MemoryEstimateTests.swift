import HiDiffCore
import HiDiffModels
import XCTest

/// The per-worker memory estimate the coordinator picks a group size with: the invariants it must keep.
final class MemoryEstimateTests: XCTestCase {
    let sd15 = ModelShape(unetChannels: [320, 640, 1280, 1280], attentionLevels: [true, true, true, false],
                          unetLayers: 2, vaeChannels: [128, 256, 512, 512], vaeFactor: 8, weightBytes: 4_300_000_000)

    func estimate(_ size: Int, parts: Int, batch: Int = 2) -> Int64 {
        MemoryEstimate.perWorker(sd15, width: size, height: size, batch: batch, parts: parts)
    }

    func testGrowsWithTheImageAndFallsWithTheGroup() {
        XCTAssertLessThan(estimate(512, parts: 1), estimate(1024, parts: 1))
        XCTAssertLessThan(estimate(1024, parts: 1), estimate(2048, parts: 1))
        XCTAssertLessThan(estimate(4096, parts: 4), estimate(4096, parts: 2))
        XCTAssertLessThan(estimate(4096, parts: 2), estimate(4096, parts: 1))
        // Weights and the base are never split: a 512 px job gains little from a group.
        XCTAssertGreaterThan(estimate(512, parts: 8), sd15.weightBytes + MemoryEstimate.baseBytes)
        // The split part falls as 1/K: at 4096 px the activations dominate, so 4 workers need well under half.
        let fixed = sd15.weightBytes + MemoryEstimate.baseBytes
        XCTAssertLessThan(Double(estimate(4096, parts: 4) - fixed), 0.5 * Double(estimate(4096, parts: 1) - fixed))
        // The VAE decoder (batch 1) dominates large SD images; guidance doubles only the U-Net part.
        XCTAssertLessThanOrEqual(estimate(1024, parts: 1, batch: 1), estimate(1024, parts: 1, batch: 2))
    }

    func testPartsIsTheFewestThatFit() throws {
        let memory = estimate(4096, parts: 3)
        XCTAssertEqual(MemoryEstimate.parts(for: sd15, width: 4096, height: 4096, batch: 2, memory: memory, maxParts: 16), 3)
        XCTAssertEqual(MemoryEstimate.parts(for: sd15, width: 4096, height: 4096, batch: 2, memory: memory, maxParts: 2), nil)
        XCTAssertEqual(MemoryEstimate.parts(for: sd15, width: 512, height: 512, batch: 2, memory: 64 << 30, maxParts: 8), 1)
        XCTAssertNil(MemoryEstimate.parts(for: sd15, width: 512, height: 512, batch: 2, memory: 1 << 20, maxParts: 8))
    }

    func testAbsurdSizesDoNotOverflow() {
        XCTAssertEqual(estimate(1 << 30, parts: 1), .max)
    }
}
