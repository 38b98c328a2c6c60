import HiDiffCore
import HiDiffImage
import XCTest

/// Tensor <-> image conversions against diffusers' VaeImageProcessor (0.29.2).
final class RGBImageTensorTests: XCTestCase {
    /// Inputs (float32 bits) and outputs of `VaeImageProcessor().postprocess(x, output_type="pil")`,
    /// channel R = x and G = -x, produced with diffusers 0.29.2 / torch 2.15 / numpy 2.4.
    /// Includes clamping, NaN, and exact .5 ties after `* 255` that numpy rounds to even
    /// (0xbefcfcfb: 64.5 -> 64 and 190.5 -> 190; 0xbef4f4f3: 66.5 -> 66 and 188.5 -> 188).
    private let inputBits: [UInt32] = [
        0xbf800000, 0x3f800000, 0x0, 0xbf000000, 0x3f000000, 0x3fc00000, 0xc0e00000, 0xbf7dfdfe,
        0xbf7efeff, 0xbf7cfcfd, 0x3b808081, 0xbb808081, 0x3dcccccd, 0xbdcccccd, 0x3f7fbe77, 0xbf7fbe77,
        0x3f7ef9db, 0x3f7efefe, 0x7fc00000, 0x322bcc77, 0x3e808080, 0xbe808081, 0xbefcfcfb, 0xbef4f4f3,
    ]
    private let red: [UInt8] = [0, 255, 128, 64, 191, 255, 0, 1, 0, 1, 128, 127, 140, 115, 255, 0, 254, 254, 0, 128, 160, 96, 64, 66]
    private let green: [UInt8] = [255, 0, 128, 191, 64, 0, 255, 254, 254, 254, 127, 128, 115, 140, 0, 255, 1, 1, 0, 128, 96, 160, 190, 188]

    func testTensorToImageMatchesDiffusersPostprocess() {
        let x = inputBits.map(Float.init(bitPattern:))
        let n = x.count
        // [1, 3, 1, n]: R = x, G = -x, B = x.
        let t = Tensor(shape: [1, 3, 1, n], data: x + x.map { -$0 } + x)
        let image = RGBImage(tensor: t)
        XCTAssertEqual(image.width, n)
        XCTAssertEqual(image.height, 1)
        XCTAssertEqual((0..<n).map { image[$0, 0].r }, red)
        XCTAssertEqual((0..<n).map { image[$0, 0].g }, green)
        XCTAssertEqual((0..<n).map { image[$0, 0].b }, red)
    }

    func testTensorLayoutIsNCHWAndBatchIndexSelects() {
        // 2 images of 2x3; element value encodes (n, c, y, x).
        var data: [Float] = []
        for n in 0..<2 { for c in 0..<3 { for y in 0..<2 { for x in 0..<3 {
            data.append(Float(n * 1000 + c * 100 + y * 10 + x) / 2000 * 2 - 1)
        } } } }
        let t = Tensor(shape: [2, 3, 2, 3], data: data)
        for n in 0..<2 {
            let image = RGBImage(tensor: t, batchIndex: n)
            XCTAssertEqual(image.width, 3)
            XCTAssertEqual(image.height, 2)
            for y in 0..<2 { for x in 0..<3 {
                let p = image[x, y]
                for (c, v) in [p.r, p.g, p.b].enumerated() {
                    let expected = (Float(n * 1000 + c * 100 + y * 10 + x) / 2000 * 255).rounded(.toNearestOrEven)
                    XCTAssertEqual(Float(v), expected, accuracy: 1, "n\(n) c\(c) y\(y) x\(x)")
                }
            } }
        }
        XCTAssertEqual(RGBImage(tensor: Tensor(shape: [3, 2, 3], data: Array(data[0..<18]))), RGBImage(tensor: t))
    }

    /// `preprocess` of a PIL image: float32 bits for bytes 0, 1, 2, 3, 50, 100, 127, 128, 200, 253, 254, 255
    /// from diffusers 0.29.2.
    func testToTensorMatchesDiffusersPreprocess() {
        let bytes: [UInt8] = [0, 1, 2, 3, 50, 100, 127, 128, 200, 253, 254, 255]
        let expected: [UInt32] = [0xbf800000, 0xbf7dfdfe, 0xbf7bfbfc, 0xbf79f9fa, 0xbf1b9b9c, 0xbe5cdcdc,
                                  0xbb808080, 0x3b808100, 0x3f119192, 0x3f7bfbfc, 0x3f7dfdfe, 0x3f800000]
        let n = bytes.count
        // R and B hold the bytes, G holds them in reverse order.
        let image = RGBImage(width: n, height: 1, pixels: (0..<n).flatMap { [bytes[$0], bytes[n - 1 - $0], bytes[$0]] })
        let t = image.toTensor()
        XCTAssertEqual(t.shape, [1, 3, 1, bytes.count])
        XCTAssertEqual(Array(t.data[0..<bytes.count]).map(\.bitPattern), expected)
        XCTAssertEqual(Array(t.data[(2 * bytes.count)...]).map(\.bitPattern), expected)
        XCTAssertEqual(Array(t.data[bytes.count..<(2 * bytes.count)]).map(\.bitPattern), expected.reversed())
    }

    /// Preprocess then postprocess returns every byte value unchanged.
    func testToTensorAndBackIsIdentity() {
        let image = RGBImage(width: 16, height: 16, pixels: (0..<768).map { UInt8(($0 * 7) % 256) })
        XCTAssertEqual(RGBImage(tensor: image.toTensor()), image)
    }
}

/// `ImageDifference`, the measure `hidiff compare` prints and the sharding and parity tests assert on.
final class ImageDifferenceTests: XCTestCase {
    func testMeasures() throws {
        let a = RGBImage(width: 2, height: 1, pixels: [0, 10, 20, 30, 40, 50])
        var b = a
        XCTAssertEqual(try ImageDifference(a, b).maxDifference, 0)
        XCTAssertEqual(try ImageDifference(a, b).psnr, .infinity)
        b.pixels[1] = 13
        b.pixels[5] = 49
        let d = try ImageDifference(a, b)
        XCTAssertEqual(d.maxDifference, 3)
        XCTAssertEqual(d.differingValues, 2)
        XCTAssertEqual(d.meanDifference, 4.0 / 6, accuracy: 1e-12)
        // MSE = (9 + 1) / 6; PSNR = 10 log10(255^2 / MSE).
        XCTAssertEqual(d.psnr, 10 * log10(65025 / (10.0 / 6)), accuracy: 1e-9)
        XCTAssertThrowsError(try ImageDifference(a, RGBImage(width: 1, height: 2, pixels: a.pixels))) {
            XCTAssertTrue("\($0)".contains("2x1 and 1x2"), "\($0)")
        }
    }
}
