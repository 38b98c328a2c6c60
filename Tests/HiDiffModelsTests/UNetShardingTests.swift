import HiDiffCore
import HiDiffModels
import HiDiffTestSupport
import XCTest

/// The sharding seam at model level: the U-Net and the VAE run on horizontal stripes of the latent in
/// separate threads (`LocalGroup`), reaching each other only through the `Collective`, and the stripes
/// reassemble to the single-node result, for equal and unequal stripes (the last one shorter).
final class UNetShardingTests: XCTestCase {
    private func unet() throws -> UNet2DConditionModel {
        let folder = try DiffusersFolder(path: Fixtures.path("models/sd15-tiny"))
        return try UNet2DConditionModel(config: folder.config("unet", as: UNetConfig.self), weights: folder.weights("unet"))
    }

    private func vae() throws -> AutoencoderKL {
        let folder = try DiffusersFolder(path: Fixtures.path("models/sd15-tiny"))
        return try AutoencoderKL(config: folder.config("vae", as: VAEConfig.self), weights: folder.weights("vae"))
    }

    func testUNetOnStripesEqualsTheWholeMap() throws {
        let unet = try unet()
        var g = SplitMix(seed: 21)
        // 21 latent rows: stripes are multiples of the U-Net's total downsampling (8) but the last.
        let x = g.tensor([2, 4, 21, 12])
        let ehs = g.tensor([2, 77, 32])
        let whole = try unet(x, timestep: 600, encoderHiddenStates: ehs)
        for rows in [[8, 13], [16, 5], [8, 8, 5]] {
            let stripes = try LocalGroup(size: rows.count).run { rank, collective in
                try unet(x.stripe(rank, rows: rows), timestep: 600, encoderHiddenStates: ehs,
                         context: UNetCallContext(collective: collective))
            }
            let joined = Tensor.concat(stripes, axis: 2)
            XCTAssertEqual(joined.shape, whole.shape)
            let err = relativeError(joined, whole)
            XCTAssertLessThanOrEqual(err, 1e-5, "stripes \(rows): relative error \(err)")
        }
    }

    func testVAEOnStripesEqualsTheWholeMap() throws {
        let vae = try vae()
        var g = SplitMix(seed: 5)
        let z = g.tensor([1, 4, 11, 6])
        let whole = try vae.decode(z)
        for rows in [[8, 3], [4, 4, 3]] {
            let stripes = try LocalGroup(size: rows.count).run { rank, collective in
                try vae.decode(z.stripe(rank, rows: rows), collective: collective)
            }
            XCTAssertLessThanOrEqual(relativeError(Tensor.concat(stripes, axis: 2), whole), 1e-5, "decode \(rows)")
        }
        // The encoder's downsampler pads only the bottom row of the whole image.
        let image = g.tensor([1, 3, 88, 24])
        let encoded = try vae.encode(image).mean
        for rows in [[64, 24], [32, 32, 24]] {
            let stripes = try LocalGroup(size: rows.count).run { rank, collective in
                try vae.encode(image.stripe(rank, rows: rows), collective: collective).mean
            }
            XCTAssertLessThanOrEqual(relativeError(Tensor.concat(stripes, axis: 2), encoded), 1e-5, "encode \(rows)")
        }
    }
}
