import Foundation
import HiDiffCore
import HiDiffModels
import XCTest

/// A checkpoint with a NaN or infinite weight is refused when that tensor loads, naming it, instead of
/// rendering a black image after the whole generation.
final class NonFiniteWeightTests: XCTestCase {
    func testNaNAndInfiniteWeightsAreRefusedByName() throws {
        let path = NSTemporaryDirectory() + "hidiff-nonfinite-\(UUID().uuidString.prefix(8)).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bad = Tensor(zeros: [2, 3])
        bad.data[4] = .nan
        var inf = Tensor(zeros: [3])
        inf.data[0] = -.infinity
        try SafeTensorsWriter.write([("good", Tensor(zeros: [2, 2])), ("conv.weight", bad), ("conv.bias", inf)], to: path)
        let weights = Weights(try SafeTensorsFile(path: path))
        XCTAssertEqual(try weights("good", shape: [2, 2]).shape, [2, 2])
        for (name, shape) in [("conv.weight", [2, 3]), ("conv.bias", [3])] {
            XCTAssertThrowsError(try weights(name, shape: shape)) { error in
                guard case let .nonFinite(tensor, _)? = error as? WeightError else { return XCTFail("\(error)") }
                XCTAssertEqual(tensor, name)
                XCTAssertTrue("\(error)".contains("NaN or infinite"), "\(error)")
            }
        }
    }
}
