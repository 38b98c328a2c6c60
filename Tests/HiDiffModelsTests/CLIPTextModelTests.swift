import Foundation
import HiDiffCore
import HiDiffModels
import XCTest

/// CLIPTextModel against transformers' CLIPTextModel (4.44.2, fp32) on the tiny SD 1.5 (quick_gelu) and
/// SD 2.1 (gelu, "!" padding) text encoders: max abs error <= 1e-4 * max abs reference value.
final class CLIPTextModelTests: XCTestCase {
    private static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path

    private struct Fixture {
        var model: CLIPTextModel
        var tokenizer: CLIPTokenizer
        var cases: [(text: String, ids: [Int])]
        var reference: SafeTensorsFile
    }

    private struct Cases: Decodable {
        struct Case: Decodable {
            var text: String
            var ids: [Int]
        }
        var text_encoder: [Case]
    }

    private func load(_ name: String) throws -> Fixture {
        let casesPath = "\(Self.fixtures)/\(name)/cases.json"
        guard FileManager.default.fileExists(atPath: casesPath) else {
            XCTFail("fixture missing: \(casesPath) (made by tools/reference/make_fixtures.py)")
            throw CocoaError(.fileNoSuchFile)
        }
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true  // the scheduler configs in cases.json hold -Infinity
        let cases = try decoder.decode(Cases.self, from: Data(contentsOf: URL(fileURLWithPath: casesPath)))
            .text_encoder.map { ($0.text, $0.ids) }
        let folder = "\(Self.fixtures)/models/\(name)"
        let configData = try Data(contentsOf: URL(fileURLWithPath: folder + "/text_encoder/config.json"))
        let config = try JSONDecoder().decode(CLIPTextConfig.self, from: configData)
        let weights = Weights(try SafeTensorsFile(path: folder + "/text_encoder/model.safetensors"))
        return Fixture(model: try CLIPTextModel(config: config, weights: weights),
                       tokenizer: try CLIPTokenizer(directory: folder + "/tokenizer"), cases: cases,
                       reference: try SafeTensorsFile(path: "\(Self.fixtures)/\(name)/text_encoder.safetensors"))
    }

    private func assertClose(_ got: Tensor, _ expected: Tensor, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, expected.count, "\(what): \(got.shape) vs \(expected.shape)", file: file, line: line)
        guard got.count == expected.count else { return }
        let err = got.reshaped(expected.shape).maxAbsDifference(expected)
        let tolerance = 1e-4 * expected.maxAbs
        XCTAssertGreaterThan(expected.maxAbs, 0, what, file: file, line: line)
        XCTAssertLessThanOrEqual(err, tolerance, "\(what): max abs err \(err), ref max \(expected.maxAbs)",
                                 file: file, line: line)
    }

    private func checkOracle(_ name: String, activation: CLIPActivation) throws {
        let f = try load(name)
        XCTAssertEqual(f.model.config.hiddenAct, activation)
        XCTAssertEqual(f.model.config.eosTokenID, 2)  // pooled at argmax(ids), as in SD's real configs
        XCTAssertNil(f.model.textProjection)
        XCTAssertGreaterThan(f.cases.count, 0)
        for (i, c) in f.cases.enumerated() {
            XCTAssertEqual(try f.tokenizer.encode(c.text), c.ids, "\(name) case \(i) ids")
            let out = try f.model([c.ids])
            assertClose(out.lastHiddenState, try f.reference.load("\(i).last_hidden_state"),
                        "\(name) \(i) last_hidden_state")
            assertClose(out.pooledOutput, try f.reference.load("\(i).pooled"), "\(name) \(i) pooled")
        }
        // A batch gives each sequence the result it has alone (no leakage across the batch).
        let batch = try f.model(f.cases.prefix(3).map(\.ids))
        for i in 0..<3 {
            let c = f.model.config.hiddenSize
            assertClose(batch.lastHiddenState.slice(axis: 0, i..<(i + 1)),
                        try f.reference.load("\(i).last_hidden_state"), "\(name) batch row \(i)")
            assertClose(batch.pooledOutput.slice(axis: 0, i..<(i + 1)).reshaped([1, c]),
                        try f.reference.load("\(i).pooled"), "\(name) batch pooled \(i)")
        }
    }

    func testSD15TextEncoderMatchesOracle() throws {
        try checkOracle("sd15-tiny", activation: .quickGelu)
    }

    func testSD21TextEncoderMatchesOracle() throws {
        try checkOracle("sd21-tiny", activation: .gelu)
    }

    /// Hidden states: embeddings + one per block, the last one normalised by final_layer_norm gives
    /// last_hidden_state; the causal mask makes a prefix's outputs independent of what follows.
    func testHiddenStatesAndCausality() throws {
        let f = try load("sd15-tiny")
        let ids = f.cases[0].ids
        let out = try f.model([ids], outputHiddenStates: true)
        XCTAssertEqual(out.hiddenStates.count, f.model.config.numHiddenLayers + 1)
        XCTAssertEqual(f.model.finalLayerNorm(out.hiddenStates.last!), out.lastHiddenState)
        let prefix = try f.model([Array(ids.prefix(8))])
        assertClose(prefix.lastHiddenState, out.lastHiddenState.slice(axis: 1, 0..<8), "causal prefix")
    }

    func testPooledPosition() throws {
        let f = try load("sd15-tiny")
        // eos_token_id 2: argmax of the ids, first maximum.
        XCTAssertEqual(f.model.pooledPosition([49406, 320, 49407, 49407]), 2)
        var config = f.model.config
        config.eosTokenID = 49407
        let path = "\(Self.fixtures)/models/sd15-tiny/text_encoder/model.safetensors"
        let weights = Weights(try SafeTensorsFile(path: path))
        let fixed = try CLIPTextModel(config: config, weights: weights)
        // Other eos ids: first occurrence of eos (SD 2.x pads with "!" = 0 after it).
        XCTAssertEqual(fixed.pooledPosition([49406, 320, 49407, 0, 0]), 2)
        XCTAssertEqual(fixed.pooledPosition([49406, 320, 321]), 0)
    }

    func testBadInputIsRejected() throws {
        let f = try load("sd15-tiny")
        XCTAssertThrowsError(try f.model([])) { XCTAssertEqual($0 as? CLIPTextModelError, .emptyInput) }
        XCTAssertThrowsError(try f.model([[1, 2], [1]])) {
            XCTAssertEqual($0 as? CLIPTextModelError, .raggedBatch(lengths: [2, 1]))
        }
        XCTAssertThrowsError(try f.model([[1, 49408]])) {
            XCTAssertEqual($0 as? CLIPTextModelError, .tokenOutOfRange(id: 49408, vocabSize: 49408))
        }
        XCTAssertThrowsError(try f.model([Array(repeating: 1, count: 78)])) {
            XCTAssertEqual($0 as? CLIPTextModelError, .sequenceTooLong(length: 78, maxPositionEmbeddings: 77))
        }
    }

    func testWrongCheckpointNamesTheTensor() throws {
        let folder = "\(Self.fixtures)/models/sd15-tiny/text_encoder"
        var config = try JSONDecoder().decode(CLIPTextConfig.self,
                                              from: Data(contentsOf: URL(fileURLWithPath: folder + "/config.json")))
        config.hiddenSize *= 2
        let weights = Weights(try SafeTensorsFile(path: folder + "/model.safetensors"))
        XCTAssertThrowsError(try CLIPTextModel(config: config, weights: weights)) { error in
            guard case .shapeMismatch(let name, _, _, _)? = error as? WeightError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(name, "text_model.embeddings.token_embedding.weight")
        }
        let badAct = Data(#"{"hidden_act": "swiglu"}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(CLIPTextConfig.self, from: badAct)) {
            XCTAssertEqual($0 as? ModelConfigError, .unsupported(field: "hidden_act", value: "swiglu"))
        }
    }

    /// `CLIPTextModelWithProjection`: text_embeds = pooled x text_projection^T (no bias), and a config naming
    /// that architecture requires the tensor.
    func testTextProjection() throws {
        let folder = "\(Self.fixtures)/models/sd15-tiny/text_encoder"
        var config = try JSONDecoder().decode(CLIPTextConfig.self,
                                              from: Data(contentsOf: URL(fileURLWithPath: folder + "/config.json")))
        let file = try SafeTensorsFile(path: folder + "/model.safetensors")
        config.projectionDim = 5
        config.architectures = ["CLIPTextModelWithProjection"]
        XCTAssertThrowsError(try CLIPTextModel(config: config, weights: Weights(file))) {
            XCTAssertEqual($0 as? WeightError, .missing(name: "text_projection.weight", file: file.origin))
        }
        let c = config.hiddenSize
        let projection = Tensor(shape: [5, c], data: (0..<(5 * c)).map { Float(($0 * 7) % 11) / 11 - 0.5 })
        let source = ExtraTensor(base: file, name: "text_projection.weight", tensor: projection)
        let model = try CLIPTextModel(config: config, weights: Weights(source))
        let ids = try CLIPTokenizer(directory: "\(Self.fixtures)/models/sd15-tiny/tokenizer").encode("a photo of a cat")
        let out = try model([ids])
        let embeds = try XCTUnwrap(out.textEmbeds)
        XCTAssertEqual(embeds.shape, [1, 5])
        for j in 0..<5 {
            var dot: Double = 0
            for k in 0..<c { dot += Double(out.pooledOutput.data[k]) * Double(projection.data[j * c + k]) }
            XCTAssertEqual(Double(embeds.data[j]), dot, accuracy: 1e-5 * max(1, abs(dot)))
        }
    }
}

/// A checkpoint plus one extra tensor.
private struct ExtraTensor: TensorSource {
    var base: SafeTensorsFile
    var name: String
    var tensor: Tensor
    var names: [String] { base.names + [name] }
    var origin: String { base.origin }
    func shape(of n: String) -> [Int]? { n == name ? tensor.shape : base.shape(of: n) }
    func load(_ n: String) throws -> Tensor { n == name ? tensor : try base.load(n) }
}
