import HiDiffCore
import HiDiffModels
import HiDiffTestSupport
import XCTest

/// The sharding seam at model level: the U-Net and the VAE decoder run on horizontal stripes of the latent in
/// separate threads (`LocalGroup`), reaching each other only through the `Collective`, and the stripes
/// reassemble to the single-node result.
final class UNetShardingTests: XCTestCase {
    func testUNetOnTwoStripesEqualsTheWholeMap() throws {
        let folder = try DiffusersFolder(path: Fixtures.path("models/sd15-tiny"))
        let unet = try UNet2DConditionModel(config: folder.config("unet", as: UNetConfig.self),
                                            weights: folder.weights("unet"))
        var g = SplitMix(seed: 21)
        // 16 latent rows: two stripes of 8, a multiple of the U-Net's total downsampling (8).
        let x = g.tensor([2, 4, 16, 12])
        let ehs = g.tensor([2, 77, 32])
        let whole = try unet(x, timestep: 600, encoderHiddenStates: ehs)
        for parts in [2] {
            let group = LocalGroup(size: parts)
            let stripes = group.run { rank, collective in
                try! unet(x.stripe(rank, of: parts), timestep: 600, encoderHiddenStates: ehs,
                          context: UNetCallContext(collective: collective))
            }
            let joined = Tensor.concat(stripes, axis: 2)
            XCTAssertEqual(joined.shape, whole.shape)
            let err = relativeError(joined, whole)
            XCTAssertLessThanOrEqual(err, 1e-5, "K=\(parts): relative error \(err)")
        }
    }

    func testVAEDecoderOnTwoStripesEqualsTheWholeMap() throws {
        let folder = try DiffusersFolder(path: Fixtures.path("models/sd15-tiny"))
        let vae = try AutoencoderKL(config: folder.config("vae", as: VAEConfig.self), weights: folder.weights("vae"))
        var g = SplitMix(seed: 5)
        let z = g.tensor([1, 4, 8, 6])
        let whole = try vae.decode(z)
        let group = LocalGroup(size: 2)
        let stripes = group.run { rank, collective in try! vae.decode(z.stripe(rank, of: 2), collective: collective) }
        let joined = Tensor.concat(stripes, axis: 2)
        XCTAssertEqual(joined.shape, whole.shape)
        XCTAssertLessThanOrEqual(relativeError(joined, whole), 1e-5)
    }
}
