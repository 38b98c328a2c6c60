import Foundation
import HiDiffCore
import HiDiffModels
import XCTest

/// The per-call seams HiDiffusion plugs into (`UNetCallContext`): where the self-attention override is
/// called and with which map sizes, that an identity override changes nothing, and that RAU-Net's switches
/// walk the feature-map sizes of hidiffusion-spec.md §1.4. (Numeric parity of these switches with the
/// authors' package is asserted by the HiDiffusion tests on Tests/Fixtures/hidiffusion.)
final class UNetSeamTests: XCTestCase {
    /// Records every override request (path and map size); thread-safe because overrides are @Sendable.
    private final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [(String, Int, Int)] = []
        func add(_ r: SelfAttentionRequest) { lock.lock(); seen.append((r.path.description, r.height, r.width)); lock.unlock() }
        var sizes: [String: [Int]] {
            lock.lock(); defer { lock.unlock() }
            return Dictionary(seen.map { ($0.0, [$0.1, $0.2]) }, uniquingKeysWith: { a, _ in a })
        }
        var count: Int { lock.lock(); defer { lock.unlock() }; return seen.count }
    }

    private func inputs(height: Int, width: Int) -> (Tensor, Tensor) {
        var g = SplitMix(seed: 7)
        let x = Tensor(shape: [1, 4, height, width], data: (0..<(4 * height * width)).map { _ in g.next() })
        let ehs = Tensor(shape: [1, 77, 32], data: (0..<(77 * 32)).map { _ in g.next() })
        return (x, ehs)
    }

    func testIdentityOverrideIsExactAndSeesEveryTransformerBlock() throws {
        let unet = try UNetTests.unet("sd15-tiny")
        let (x, ehs) = inputs(height: 8, width: 12)
        let vanilla = try unet(x, timestep: 500, encoderHiddenStates: ehs)
        let recorder = Recorder()
        let context = UNetCallContext(collective: SingleShard(), selfAttentionOverride: { request in
            recorder.add(request)
            return try request.attention(request.tokens, collective: request.collective)
        })
        let hooked = try unet(x, timestep: 500, encoderHiddenStates: ehs, context: context)
        XCTAssertEqual(hooked, vanilla)
        // 2 + 2 + 2 down, 1 mid, 3 + 3 + 3 up transformer blocks, one transformer layer each.
        XCTAssertEqual(recorder.count, 16)
        let sizes = recorder.sizes
        XCTAssertEqual(sizes["down_blocks.0.attentions.1.transformer_blocks.0"], [8, 12])
        XCTAssertEqual(sizes["down_blocks.2.attentions.0.transformer_blocks.0"], [2, 3])
        XCTAssertEqual(sizes["mid_block.attentions.0.transformer_blocks.0"], [1, 2])
        XCTAssertEqual(sizes["up_blocks.1.attentions.2.transformer_blocks.0"], [2, 3])
        XCTAssertEqual(sizes["up_blocks.3.attentions.0.transformer_blocks.0"], [8, 12])
    }

    func testOverrideOutputIsUsed() throws {
        let unet = try UNetTests.unet("sd15-tiny")
        let (x, ehs) = inputs(height: 8, width: 8)
        let vanilla = try unet(x, timestep: 500, encoderHiddenStates: ehs)
        let zeroed = UNetCallContext(collective: SingleShard(), selfAttentionOverride: { request in
            request.path.stage == .down(0) ? Tensor(zeros: request.tokens.shape) : nil
        })
        let out = try unet(x, timestep: 500, encoderHiddenStates: ehs, context: zeroed)
        XCTAssertGreaterThan(out.maxAbsDifference(vanilla), 1e-3 * vanilla.maxAbs)
    }

    /// SD 1.5 RAU-Net phase with both stages active (spec §1.4, "SD1.5 @2048, k < 15"), at latent 32x48:
    /// RAD on down_blocks[0] (32x48 -> 8x12), pool after pair 0 of down_blocks[1] (8x12 -> 4x6), bicubic back
    /// to 8x12 after pair 1 of up_blocks[2], then nearest 8x12 -> 32x48 into up_blocks[3].
    func testRAUNetSwitchesWalkTheSpecShapes() throws {
        let unet = try UNetTests.unet("sd15-tiny")
        let (x, ehs) = inputs(height: 32, width: 48)
        let recorder = Recorder()
        let context = UNetCallContext(
            callIndex: 0, callCount: 10, collective: SingleShard(),
            downsamplerGeometry: [0: .resolutionAwareDownsampler], pooledDownBlocks: [1],
            selfAttentionOverride: { recorder.add($0); return nil })
        let out = try unet(x, timestep: 500, encoderHiddenStates: ehs, context: context)
        XCTAssertEqual(out.shape, [1, 4, 32, 48])
        let expected: [String: [Int]] = [
            "down_blocks.0.attentions.1.transformer_blocks.0": [32, 48],
            "down_blocks.1.attentions.0.transformer_blocks.0": [8, 12],
            "down_blocks.1.attentions.1.transformer_blocks.0": [4, 6],
            "down_blocks.2.attentions.0.transformer_blocks.0": [2, 3],
            "mid_block.attentions.0.transformer_blocks.0": [1, 2],
            "up_blocks.1.attentions.0.transformer_blocks.0": [2, 3],
            "up_blocks.2.attentions.1.transformer_blocks.0": [4, 6],
            "up_blocks.2.attentions.2.transformer_blocks.0": [8, 12],
            "up_blocks.3.attentions.0.transformer_blocks.0": [32, 48],
        ]
        let sizes = recorder.sizes
        for (path, size) in expected { XCTAssertEqual(sizes[path], size, path) }
    }

    func testInconsistentSwitchesThrow() throws {
        let unet = try UNetTests.unet("sd15-tiny")
        let (x, ehs) = inputs(height: 8, width: 8)
        // down_blocks[3] is a DownBlock2D (no pairs with attention) and has no downsampler.
        for context in [UNetCallContext(collective: SingleShard(), pooledDownBlocks: [3]), UNetCallContext(collective: SingleShard(), downsamplerGeometry: [3: .resolutionAwareDownsampler])] {
            XCTAssertThrowsError(try unet(x, timestep: 1, encoderHiddenStates: ehs, context: context)) { error in
                guard case .invalidCallContext? = error as? UNetError else {
                    return XCTFail("expected UNetError.invalidCallContext, got \(error)")
                }
            }
        }
    }
}

/// Deterministic uniform noise in [-1, 1) for inputs that only need to be generic.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) / Float(1 << 23) - 1
    }
}
