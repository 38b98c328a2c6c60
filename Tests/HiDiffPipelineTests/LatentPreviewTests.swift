import HiDiffCore
import HiDiffImage
import HiDiffPipeline
import XCTest

/// `LatentPreview`: the projections' numbers against the factors they state, the fallback, and the size bound.
final class LatentPreviewTests: XCTestCase {
    /// A `[1, C, h, w]` latent whose pixel i holds `pixels[i]` (one value per channel).
    private func latent(_ pixels: [[Float]], height: Int, width: Int) -> Tensor {
        let channels = pixels[0].count
        var data = [Float](repeating: 0, count: channels * height * width)
        for (i, p) in pixels.enumerated() {
            for c in 0..<channels { data[c * height * width + i] = p[c] }
        }
        return Tensor(shape: [1, channels, height, width], data: data)
    }

    private func rgb(_ image: RGBImage) -> [[UInt8]] {
        stride(from: 0, to: image.pixels.count, by: 3).map { Array(image.pixels[$0..<($0 + 3)]) }
    }

    func testSD15FactorsByHand() {
        // rgb = z · factors; (rgb + 1) / 2 * 255, rounded: e.g. z = e1 gives (0.3512, 0.2297, 0.3227)
        // -> (172.28, 156.79, 168.64).
        let preview = LatentPreview(projection: .linear(name: "sd15", factors: LatentPreview.sd15Factors))
        let image = preview.image(latent([[1, 0, 0, 0], [0, 0, 0, 1], [0.5, -0.25, 1, 0.1], [10, 0, 0, 0], [-10, 0, 0, 0], [0, 0, 0, 0]],
                                         height: 2, width: 3))
        XCTAssertEqual(image.width, 3)
        XCTAssertEqual(image.height, 2)
        XCTAssertEqual(rgb(image), [[172, 157, 169], [100, 94, 36], [101, 145, 166], [255, 255, 255], [0, 0, 0], [128, 128, 128]])
    }

    func testSDXLFactorsByHand() {
        // z = (1, 1, 1, 1): the column sums (-0.1258, 0.3186, 0.2371) -> (111.46, 168.12, 157.73).
        let preview = LatentPreview(projection: .linear(name: "sdxl", factors: LatentPreview.sdxlFactors))
        XCTAssertEqual(rgb(preview.image(latent([[1, 1, 1, 1]], height: 1, width: 1))), [[111, 168, 158]])
    }

    func testProjectionFollowsTheVAE() {
        XCTAssertEqual(LatentPreview.projection(family: .sd, latentChannels: 4, scalingFactor: 0.18215),
                       .linear(name: "sd15", factors: LatentPreview.sd15Factors))
        XCTAssertEqual(LatentPreview.projection(family: .sdxl, latentChannels: 4, scalingFactor: 0.13025),
                       .linear(name: "sdxl", factors: LatentPreview.sdxlFactors))
        XCTAssertEqual(LatentPreview.projection(family: .sdxlTurbo, latentChannels: 4, scalingFactor: 0.13025),
                       .linear(name: "sdxl", factors: LatentPreview.sdxlFactors))
        // The demo model's VAE is its own (scaling factor 0.59148): the SD factors would mean nothing.
        XCTAssertEqual(LatentPreview.projection(family: .sd, latentChannels: 4, scalingFactor: 0.59148), .normalizedChannels)
        XCTAssertEqual(LatentPreview.projection(family: .sd, latentChannels: 16, scalingFactor: 0.18215), .normalizedChannels)
    }

    func testNormalizedChannelsStretchesEachChannel() {
        // Two channels: R from channel 0 (0, 1, 2 -> 0, 127.5, 255), G and B from channel 1 (constant -> 128).
        let image = LatentPreview(projection: .normalizedChannels).image(latent([[0, 5], [1, 5], [2, 5]], height: 1, width: 3))
        XCTAssertEqual(rgb(image), [[0, 128, 128], [128, 128, 128], [255, 128, 128]])
        // Non-finite values count as 0.
        let odd = LatentPreview(projection: .normalizedChannels).image(latent([[.nan, 1, 2], [4, .infinity, 2]], height: 1, width: 2))
        XCTAssertEqual(rgb(odd), [[0, 255, 128], [255, 0, 128]])
    }

    func testLargeLatentsAreAveragedDownToMaxSide() {
        // 7 x 5 latent, maxSide 3: factor 3, so 2 x 1 boxes; the last box takes the remainder (columns 3-6).
        var data = [Float](repeating: 0, count: 4 * 5 * 7)
        for y in 0..<5 { for x in 0..<7 { data[y * 7 + x] = x < 3 ? 1 : -1 } }
        let preview = LatentPreview(projection: .linear(name: "sd15", factors: LatentPreview.sd15Factors), maxSide: 3)
        let image = preview.image(Tensor(shape: [1, 4, 5, 7], data: data))
        XCTAssertEqual(image.width, 2)
        XCTAssertEqual(image.height, 1)
        XCTAssertEqual(rgb(image), [[172, 157, 169], [83, 98, 86]])
        // A 512 x 512 latent (4096 px) stays within 256 px and a PNG well under the wire limit.
        let big = LatentPreview(projection: .normalizedChannels).image(
            Tensor(shape: [1, 4, 512, 512], data: (0..<(4 * 512 * 512)).map { Float(($0 * 7919) % 1000) }))
        XCTAssertEqual(big.width, 256)
        XCTAssertEqual(big.height, 256)
        XCTAssertLessThanOrEqual(try PNGWriter.encode(big).count, 256 * 1024)
    }
}
