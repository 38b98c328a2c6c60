import Foundation
import HiDiffCore
import HiDiffModels
import XCTest

/// `Weights` scoping and shape checks, and the remapping/merging sources.
final class WeightsTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "hidiff-weights-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func makeFile(_ name: String, _ tensors: [(String, Tensor)]) throws -> SafeTensorsFile {
        let p = directory + "/" + name
        try SafeTensorsWriter.write(tensors, to: p)
        return try SafeTensorsFile(path: p)
    }

    private let kernel = Tensor(shape: [2, 1, 1, 2], data: [1, 2, 3, 4])
    private let bias = Tensor(shape: [2], data: [5, 6])

    func testScopedLookupAndShapeCheck() throws {
        let st = try makeFile("w.safetensors", [
            ("down_blocks.0.resnets.1.conv1.weight", kernel), ("down_blocks.0.resnets.1.conv1.bias", bias),
            ("other", bias),
        ])
        let w = Weights(st)
        let conv = w.scoped("down_blocks.0").scoped("resnets.1").scoped("conv1")
        XCTAssertEqual(conv.prefix, "down_blocks.0.resnets.1.conv1")
        XCTAssertEqual(try conv("weight", shape: [2, 1, 1, 2]), kernel)
        XCTAssertEqual(try conv.optional("bias", shape: [2]), bias)
        XCTAssertNil(try conv.optional("nothing", shape: [2]))
        XCTAssertTrue(conv.contains("bias"))
        XCTAssertFalse(conv.contains("other"))
        XCTAssertEqual(conv.shape(of: "weight"), [2, 1, 1, 2])
        XCTAssertEqual(conv.names, ["weight", "bias"])
        XCTAssertEqual(Weights(st, prefix: "down_blocks.0.").scoped("resnets.1.conv1").prefix, conv.prefix)

        XCTAssertThrowsError(try conv("weight", shape: [2, 1, 3, 3])) { error in
            XCTAssertEqual(error as? WeightError, .shapeMismatch(name: "down_blocks.0.resnets.1.conv1.weight",
                                                                expected: [2, 1, 3, 3], found: [2, 1, 1, 2], file: st.path))
            XCTAssertEqual("\(error)", "tensor 'down_blocks.0.resnets.1.conv1.weight' in \(st.path) has shape "
                           + "[2, 1, 1, 2], expected [2, 1, 3, 3]")
        }
        // optional() still rejects a present tensor of the wrong shape.
        XCTAssertThrowsError(try conv.optional("bias", shape: [3]))
        XCTAssertThrowsError(try conv("norm.weight", shape: [2])) { error in
            XCTAssertEqual(error as? WeightError, .missing(name: "down_blocks.0.resnets.1.conv1.norm.weight", file: st.path))
        }
    }

    func testRemappedSourceRenamesKeys() throws {
        let st = try makeFile("sd.safetensors", [
            ("model.diffusion_model.input_blocks.0.0.weight", kernel),
            ("model.diffusion_model.input_blocks.0.0.bias", bias),
            ("first_stage_model.x", bias),
        ])
        let map = ["conv_in.weight": "model.diffusion_model.input_blocks.0.0.weight",
                   "conv_in.bias": "model.diffusion_model.input_blocks.0.0.bias",
                   "time_embedding.linear_1.weight": "model.diffusion_model.time_embed.0.weight"]
        let r = RemappedSource(st, map: map)
        XCTAssertEqual(r.names, ["conv_in.bias", "conv_in.weight"], "only mapped names whose target exists")
        XCTAssertEqual(r.shape(of: "conv_in.weight"), [2, 1, 1, 2])
        XCTAssertNil(r.shape(of: "first_stage_model.x"))
        let w = Weights(r).scoped("conv_in")
        XCTAssertEqual(try w("weight", shape: [2, 1, 1, 2]), kernel)
        XCTAssertEqual(try w("bias", shape: [2]), bias)
        XCTAssertThrowsError(try r.load("time_embedding.linear_1.weight")) { error in
            XCTAssertEqual("\(error)", "missing tensor 'time_embedding.linear_1.weight' in \(st.path) "
                           + "(looked up as 'model.diffusion_model.time_embed.0.weight')")
        }

        let passing = RemappedSource(st, map: map, passThroughUnmapped: true)
        XCTAssertEqual(passing.names, ["conv_in.bias", "conv_in.weight", "first_stage_model.x"])
        XCTAssertEqual(try passing.load("first_stage_model.x"), bias)
        XCTAssertFalse(passing.contains("model.diffusion_model.input_blocks.0.0.bias"), "mapped originals are hidden")
    }

    func testMergedSourceFindsEachNameInItsFileAndRejectsDuplicates() throws {
        let a = try makeFile("a.safetensors", [("x", kernel)])
        let b = try makeFile("b.safetensors", [("y", bias)])
        let m = try MergedSource([a, b])
        XCTAssertEqual(m.names, ["x", "y"])
        XCTAssertEqual(try m.load("y"), bias)
        XCTAssertEqual(m.origin(of: "y"), b.path)
        XCTAssertThrowsError(try Weights(m)("y", shape: [3])) { error in
            XCTAssertEqual(error as? WeightError, .shapeMismatch(name: "y", expected: [3], found: [2], file: b.path))
        }
        XCTAssertThrowsError(try m.load("z")) { error in
            XCTAssertEqual(error as? WeightError, .missing(name: "z", file: a.path + " + " + b.path))
        }
        let c = try makeFile("c.safetensors", [("x", bias)])
        XCTAssertThrowsError(try MergedSource([a, c])) { error in
            XCTAssertEqual(error as? WeightError, .duplicateTensor(name: "x", files: [a.path, c.path]))
        }
    }
}
