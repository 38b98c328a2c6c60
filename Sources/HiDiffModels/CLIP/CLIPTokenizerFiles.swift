import Foundation
import HiDiffCore

/// Reads a transformers CLIP tokenizer folder: `vocab.json`, `merges.txt`, and the special-token settings
/// in `tokenizer_config.json`, `special_tokens_map.json` and `added_tokens.json`, resolved with
/// transformers' precedence (`PreTrainedTokenizerBase._from_pretrained`):
///
/// - a `tokenizer_config.json` with `added_tokens_decoder` (written by transformers >= 4.34) is the whole
///   truth; `special_tokens_map.json` is not read;
/// - otherwise (the layout on the hub for SD 1.5 / 2.1) `special_tokens_map.json` overrides the config's
///   special tokens (this is where SD 2.x's pad token "!" comes from), and `added_tokens.json` adds tokens;
/// - special tokens not yet added become added tokens with their vocabulary id.
struct CLIPTokenizerFiles {
    /// A token as the JSON files describe it (a plain string or an AddedToken dictionary).
    struct TokenSpec: Equatable {
        var content: String
        var lstrip = false
        var rstrip = false
        var singleWord = false
    }

    var bos: TokenSpec? = TokenSpec(content: "<|startoftext|>")
    var eos: TokenSpec? = TokenSpec(content: "<|endoftext|>")
    var unk: TokenSpec? = TokenSpec(content: "<|endoftext|>")
    var pad: TokenSpec? = TokenSpec(content: "<|endoftext|>")
    var additionalSpecial: [TokenSpec] = []
    /// Explicitly added tokens with their ids, in file order.
    var added: [(id: Int, token: TokenSpec)] = []
    /// `model_max_length`, nil when absent or transformers' "unbounded" sentinel (1e30).
    var modelMaxLength: Int?

    /// The settings of the tokenizer folder at `directory` (missing JSON files mean transformers' defaults).
    init(directory: String) throws {
        let configPath = directory + "/tokenizer_config.json"
        let config = try Self.readOptionalJSONObject(configPath) ?? [:]
        try apply(config, path: configPath)
        if let max = config["model_max_length"] {
            if let n = max as? Int {
                modelMaxLength = n
            } else if let d = max as? Double, d.isFinite, d < 1e9 {
                modelMaxLength = Int(d)
            } else if !(max is Double) && !(max is NSNull) {
                throw CLIPTokenizerError.malformed(path: configPath, reason: "model_max_length is not a number")
            }
        }
        if let decoder = config["added_tokens_decoder"] {
            guard let entries = decoder as? [String: Any] else {
                throw CLIPTokenizerError.malformed(path: configPath, reason: "added_tokens_decoder is not an object")
            }
            for (key, value) in entries {
                guard let id = Int(key), let token = try Self.tokenSpec(value, field: "added_tokens_decoder.\(key)",
                                                                      path: configPath) else {
                    throw CLIPTokenizerError.malformed(path: configPath,
                                                       reason: "bad added_tokens_decoder entry \(key)")
                }
                added.append((id, token))
            }
            added.sort { $0.id < $1.id }
        } else {
            let mapPath = directory + "/special_tokens_map.json"
            if let map = try Self.readOptionalJSONObject(mapPath) { try apply(map, path: mapPath) }
            let addedPath = directory + "/added_tokens.json"
            if let entries = try Self.readOptionalJSONObject(addedPath) {
                for (content, value) in entries {
                    guard let id = value as? Int else {
                        throw CLIPTokenizerError.malformed(path: addedPath,
                                                           reason: "id of '\(content)' is not an integer")
                    }
                    added.append((id, TokenSpec(content: content)))
                }
                added.sort { $0.id < $1.id }
            }
        }
    }

    /// Settings for a bare vocab.json + merges.txt pair (transformers' `CLIPTokenizer` defaults).
    init(padToken: String) {
        pad = TokenSpec(content: padToken)
    }

    /// Applies the special-token keys present in one JSON object (an explicit null removes the token).
    private mutating func apply(_ object: [String: Any], path: String) throws {
        for (key, keyPath) in [("bos_token", \Self.bos), ("eos_token", \Self.eos), ("unk_token", \Self.unk),
                               ("pad_token", \Self.pad)] as [(String, WritableKeyPath<Self, TokenSpec?>)] {
            if let value = object[key] { self[keyPath: keyPath] = try Self.tokenSpec(value, field: key, path: path) }
        }
        if let list = object["additional_special_tokens"] as? [Any] {
            for (i, value) in list.enumerated() {
                if let token = try Self.tokenSpec(value, field: "additional_special_tokens[\(i)]", path: path),
                   !additionalSpecial.contains(token) {
                    additionalSpecial.append(token)
                }
            }
        }
    }

    private static func tokenSpec(_ value: Any, field: String, path: String) throws -> TokenSpec? {
        if value is NSNull { return nil }
        if let s = value as? String { return TokenSpec(content: s) }
        if let d = value as? [String: Any], let content = d["content"] as? String {
            return TokenSpec(content: content, lstrip: d["lstrip"] as? Bool ?? false,
                             rstrip: d["rstrip"] as? Bool ?? false, singleWord: d["single_word"] as? Bool ?? false)
        }
        throw CLIPTokenizerError.malformed(path: path, reason: "\(field) is neither a string nor a token object")
    }

    /// vocab.json: token -> id.
    static func readVocabulary(_ path: String) throws -> [String: Int] {
        let data = try readData(path)
        if let fast = data.withUnsafeBytes({ CLIPVocabularyParser.parse($0.bindMemory(to: UInt8.self)) }) {
            return fast
        }
        do {
            return try JSONDecoder().decode([String: Int].self, from: data)
        } catch {
            throw CLIPTokenizerError.malformed(path: path, reason: "not a JSON object of token ids (\(error))")
        }
    }

    static func readText(_ path: String) throws -> String {
        guard let text = String(data: try readData(path), encoding: .utf8) else {
            throw CLIPTokenizerError.unreadable(path: path, reason: "not valid UTF-8")
        }
        return text
    }

    private static func readData(_ path: String) throws -> Data {
        do {
            return try RegularFile.read(path, maxBytes: 64 << 20)
        } catch RegularFileError.notFound {
            throw CLIPTokenizerError.fileNotFound(path: path)
        } catch {
            throw CLIPTokenizerError.unreadable(path: path, reason: (error as? RegularFileError)?.reason ?? "\(error)")
        }
    }

    private static func readOptionalJSONObject(_ path: String) throws -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data = try readData(path)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CLIPTokenizerError.malformed(path: path, reason: "not a JSON object")
        }
        return object
    }
}
