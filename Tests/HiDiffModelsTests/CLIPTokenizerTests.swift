import Foundation
import HiDiffModels
import XCTest

/// CLIPTokenizer against transformers' slow CLIPTokenizer (4.44.2, no ftfy): ids must match exactly.
final class CLIPTokenizerTests: XCTestCase {
    private static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    private static let fixtures = repo + "/Tests/Fixtures"
    private static let bundledVocabulary = repo + "/Sources/HiDiffModels/Resources/clip"

    /// The parts of `<model>/cases.json` read here.
    private struct PipelineCases: Decodable {
        struct Config: Decodable {
            var pad_id: Int
            var split_special_tokens: [String]
        }
        struct Case: Decodable {
            var text: String
            var ids: [Int]
        }
        var tokenizer_config: Config
        var tokenizer: [Case]
    }

    private struct EdgeCases: Decodable {
        struct Case: Decodable {
            var text: String
            var sd15: [Int]
            var sd21: [Int]
            var sd15_77: [Int]?
            var sd21_77: [Int]?
        }
        var cases: [Case]
    }

    /// `json5` for `<model>/cases.json`, whose scheduler configs hold -Infinity (not JSON). Standard JSON
    /// otherwise: Foundation's JSON5 reader rejects some valid escapes (U+0000, U+FEFF, ...).
    private func decode<T: Decodable>(_ type: T.Type, _ path: String, json5: Bool = false) throws -> T {
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("fixture missing: \(path) (made by tools/reference/)")
            throw CocoaError(.fileNoSuchFile)
        }
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = json5
        return try decoder.decode(type, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The pipeline's tokenizer folder (transformers `save_pretrained` layout) on the oracle's prompts,
    /// padded and truncated to 77 as diffusers does.
    private func checkPipelineTokenizer(model: String, padID: Int) throws {
        let cases = try decode(PipelineCases.self, "\(Self.fixtures)/\(model)/cases.json", json5: true)
        let tokenizer = try CLIPTokenizer(directory: "\(Self.fixtures)/models/\(model)/tokenizer")
        XCTAssertEqual(tokenizer.padTokenID, padID)
        XCTAssertEqual(tokenizer.bosTokenID, 49406)
        XCTAssertEqual(tokenizer.eosTokenID, 49407)
        XCTAssertEqual(tokenizer.modelMaxLength, 77)
        XCTAssertEqual(cases.tokenizer_config.pad_id, tokenizer.padTokenID)
        XCTAssertEqual(Set(cases.tokenizer_config.split_special_tokens), Set(tokenizer.addedTokens.map(\.content)))
        XCTAssertGreaterThan(cases.tokenizer.count, 0)
        for entry in cases.tokenizer {
            XCTAssertEqual(try tokenizer.encode(entry.text), entry.ids, "\(model): \(entry.text.debugDescription)")
        }
    }

    func testSD15TokenizerMatchesOracle() throws {
        try checkPipelineTokenizer(model: "sd15-tiny", padID: 49407)
    }

    func testSD21TokenizerMatchesOracle() throws {
        try checkPipelineTokenizer(model: "sd21-tiny", padID: 0)
    }

    /// Hard cases (Unicode cleanup, NFC, final sigma, CJK, special tokens, the pattern's IGNORECASE quirks,
    /// SD 2.x's "!" added token, truncation) and seeded random strings from many Unicode blocks, on the
    /// bundled vocabulary with both paddings (tools/reference/make_clip_tokenizer_cases.py).
    func testEdgeCasesMatchOracle() throws {
        let cases = try decode(EdgeCases.self, "\(Self.fixtures)/clip-tokenizer/cases.json").cases
        let vocab = Self.bundledVocabulary + "/vocab.json", merges = Self.bundledVocabulary + "/merges.txt"
        let sd15 = try CLIPTokenizer(vocabularyFile: vocab, mergesFile: merges)
        let sd21 = try CLIPTokenizer(vocabularyFile: vocab, mergesFile: merges, padToken: "!")
        XCTAssertEqual(sd15.padTokenID, 49407)
        XCTAssertEqual(sd21.padTokenID, 0)
        XCTAssertGreaterThan(cases.count, 400)
        var failures = 0
        for entry in cases {
            let scalars = entry.text.unicodeScalars.map { String($0.value, radix: 16) }
            for (tokenizer, key, expected, padded) in [(sd15, "sd15", entry.sd15, entry.sd15_77),
                                                       (sd21, "sd21", entry.sd21, entry.sd21_77)] {
                let got = try tokenizer.encode(entry.text, maxLength: Int.max, pad: false)
                if got != expected { failures += 1 }
                XCTAssertEqual(got, expected, "\(key): \(scalars)")
                if let padded {
                    XCTAssertEqual(try tokenizer.encode(entry.text), padded, "\(key)_77: \(scalars)")
                }
            }
        }
        XCTAssertEqual(failures, 0)
    }

    func testTokensAndTruncation() throws {
        let dir = Self.bundledVocabulary
        let tokenizer = try CLIPTokenizer(vocabularyFile: dir + "/vocab.json", mergesFile: dir + "/merges.txt")
        // transformers: tokenize("a photo of a cat") = ['a</w>', 'photo</w>', 'of</w>', 'a</w>', 'cat</w>'].
        XCTAssertEqual(tokenizer.tokenize("A photo of a CAT"), ["a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>"])
        let long = try tokenizer.encode(Array(repeating: "cat", count: 100).joined(separator: " "))
        XCTAssertEqual(long.count, 77)
        XCTAssertEqual(long.first, tokenizer.bosTokenID)
        XCTAssertEqual(long.last, tokenizer.eosTokenID)
        XCTAssertEqual(try tokenizer.encode("", maxLength: 4), [49406, 49407, 49407, 49407])
        XCTAssertThrowsError(try tokenizer.encode("x", maxLength: 1)) { error in
            XCTAssertEqual(error as? CLIPTokenizerError, .maxLengthTooSmall(1))
        }
    }

    func testLegacyHubLayoutTakesPadFromSpecialTokensMap() throws {
        // SD 2.1 on the hub: tokenizer_config.json says pad "<|endoftext|>" but has no added_tokens_decoder, so
        // transformers lets special_tokens_map.json's "!" win.
        let dir = NSTemporaryDirectory() + "hidiff-clip-tok-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(atPath: Self.bundledVocabulary + "/" + name, toPath: dir + "/" + name)
        }
        let token = #"{"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": false, "normalized": true, "#
            + #""rstrip": false, "single_word": false}"#
        try #"{"model_max_length": 77, "pad_token": "<|endoftext|>", "eos_token": \#(token), "do_lower_case": true}"#
            .write(toFile: dir + "/tokenizer_config.json", atomically: true, encoding: .utf8)
        try #"{"pad_token": "!", "unk_token": {"content": "<|endoftext|>", "lstrip": false}}"#
            .write(toFile: dir + "/special_tokens_map.json", atomically: true, encoding: .utf8)
        let tokenizer = try CLIPTokenizer(directory: dir)
        XCTAssertEqual(tokenizer.padTokenID, 0)
        // transformers 4.44 gives [49406, 2781, 0, 0, 830, 0, 49407, 0, 0, 0] for this call.
        XCTAssertEqual(try tokenizer.encode("wow!! great!", maxLength: 10), [49406, 2781, 0, 0, 830, 0, 49407, 0, 0, 0])
    }

    /// The hand-written vocab.json reader agrees with JSONDecoder on the whole vocabulary.
    func testVocabularyMatchesJSONDecoder() throws {
        let dir = Self.bundledVocabulary
        let tokenizer = try CLIPTokenizer(vocabularyFile: dir + "/vocab.json", mergesFile: dir + "/merges.txt")
        let decoded = try JSONDecoder().decode([String: Int].self,
                                               from: Data(contentsOf: URL(fileURLWithPath: dir + "/vocab.json")))
        XCTAssertEqual(decoded.count, 49408)
        XCTAssertEqual(tokenizer.vocabulary, decoded)
    }

    func testMissingFilesAreReported() throws {
        XCTAssertThrowsError(try CLIPTokenizer(directory: "/nonexistent-hidiff")) { error in
            XCTAssertEqual(error as? CLIPTokenizerError, .fileNotFound(path: "/nonexistent-hidiff/vocab.json"))
        }
    }
}
