/// CLIP's byte-level BPE tokenizer, behaving as transformers' slow `CLIPTokenizer` (4.44) does without
/// `ftfy` installed (as in the oracle venv): added-token splitting, `BasicTokenizer` cleanup and
/// lowercasing, CLIP's word pattern, byte-level BPE with `</w>` word ends.
///
/// `encode(_:)` gives what diffusers' pipelines feed the text encoder:
/// `tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length, truncation=True)`, i.e.
/// `<|startoftext|>`, the prompt's ids cut to `maxLength - 2`, `<|endoftext|>`, then the pad id up to
/// `maxLength` (SD 1.5 pads with `<|endoftext|>` = 49407, SD 2.x with `!` = 0).
public struct CLIPTokenizer: Sendable {
    /// Token -> id, from vocab.json.
    public let vocabulary: [String: Int]
    /// Tokens matched verbatim before cleanup (special tokens and explicitly added tokens).
    public let addedTokens: [CLIPAddedToken]
    /// `<|startoftext|>`'s id.
    public let bosTokenID: Int
    /// `<|endoftext|>`'s id.
    public let eosTokenID: Int
    /// The padding id.
    public let padTokenID: Int
    /// The id of tokens missing from the vocabulary.
    public let unknownTokenID: Int
    /// Sequence length `encode(_:)` pads and truncates to (tokenizer_config's `model_max_length`; 77, CLIP's
    /// context length, when the folder does not set one).
    public let modelMaxLength: Int

    private let encoder: BytePairEncoder
    private let addedByContent: [String: Int]

    /// Loads a transformers tokenizer folder (diffusers' `tokenizer/`, `tokenizer_2/`): `vocab.json`,
    /// `merges.txt`, and the optional `tokenizer_config.json`, `special_tokens_map.json`,
    /// `added_tokens.json`.
    public init(directory: String) throws {
        try self.init(vocabularyFile: directory + "/vocab.json", mergesFile: directory + "/merges.txt",
                      files: try CLIPTokenizerFiles(directory: directory))
    }

    /// A tokenizer from a bare vocabulary (e.g. the bundled CLIP vocabulary) with transformers' defaults:
    /// `<|startoftext|>` / `<|endoftext|>`, and `padToken` ("<|endoftext|>" for SD 1.x and SDXL's first
    /// encoder, "!" for SD 2.x and SDXL's second).
    public init(vocabularyFile: String, mergesFile: String, padToken: String = "<|endoftext|>",
                modelMaxLength: Int = 77) throws {
        var files = CLIPTokenizerFiles(padToken: padToken)
        files.modelMaxLength = modelMaxLength
        try self.init(vocabularyFile: vocabularyFile, mergesFile: mergesFile, files: files)
    }

    private init(vocabularyFile: String, mergesFile: String, files: CLIPTokenizerFiles) throws {
        let vocabulary = try CLIPTokenizerFiles.readVocabulary(vocabularyFile)
        let encoder = try BytePairEncoder(mergesFile: mergesFile)

        // transformers' PreTrainedTokenizer.__init__: explicit added tokens first, then every special token
        // not yet added, with its vocabulary id (or the next free id, as `_add_tokens` does).
        var added: [CLIPAddedToken] = []
        var byContent: [String: Int] = [:]
        for (id, spec) in files.added {
            added.append(CLIPAddedToken(content: spec.content, id: id, lstrip: spec.lstrip, rstrip: spec.rstrip,
                                        singleWord: spec.singleWord))
            byContent[spec.content] = id
        }
        var nextID = Set(vocabulary.keys).union(byContent.keys).count
        let specials = [files.bos, files.eos, files.unk, files.pad].compactMap { $0 } + files.additionalSpecial
        for spec in specials where !spec.content.isEmpty && byContent[spec.content] == nil {
            let id: Int
            if let known = vocabulary[spec.content] {
                id = known
            } else {
                id = nextID
                nextID += 1
            }
            added.append(CLIPAddedToken(content: spec.content, id: id, lstrip: spec.lstrip, rstrip: spec.rstrip,
                                        singleWord: spec.singleWord))
            byContent[spec.content] = id
        }

        func id(of spec: CLIPTokenizerFiles.TokenSpec?, role: String) throws -> Int {
            guard let spec else {
                throw CLIPTokenizerError.tokenNotInVocabulary(token: "(none)", role: role, file: vocabularyFile)
            }
            guard let id = byContent[spec.content] ?? vocabulary[spec.content] else {
                throw CLIPTokenizerError.tokenNotInVocabulary(token: spec.content, role: role, file: vocabularyFile)
            }
            return id
        }
        self.unknownTokenID = try id(of: files.unk, role: "unk_token")
        self.bosTokenID = try id(of: files.bos, role: "bos_token")
        self.eosTokenID = try id(of: files.eos, role: "eos_token")
        self.padTokenID = try id(of: files.pad, role: "pad_token")
        self.vocabulary = vocabulary
        self.encoder = encoder
        self.addedTokens = added
        self.addedByContent = byContent
        self.modelMaxLength = files.modelMaxLength ?? 77
    }

    /// The tokens of `text` (byte-level spellings, `</w>` on word ends), without start/end tokens.
    public func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        for segment in CLIPAddedToken.split(Array(text.unicodeScalars), on: addedTokens) {
            switch segment {
            case .added(let token):
                tokens.append(token.content)
            case .text(let scalars):
                for word in CLIPTextCleaner.words(scalars) {
                    for piece in CLIPPreTokenizer.pieces(word) {
                        tokens.append(contentsOf: encoder.encode(CLIPByteAlphabet.encode(piece)))
                    }
                }
            }
        }
        return tokens
    }

    /// The id of one token: added tokens first, then the vocabulary, else the unknown id.
    public func id(of token: String) -> Int {
        addedByContent[token] ?? vocabulary[token] ?? unknownTokenID
    }

    /// The ids of `text` without start/end tokens, truncation or padding.
    public func ids(_ text: String) -> [Int] {
        tokenize(text).map(id(of:))
    }

    /// `[bos] + ids(text)[..<maxLength-2] + [eos]`, padded with `padTokenID` to `maxLength` when `pad`.
    ///
    /// - Parameter maxLength: the sequence length; `modelMaxLength` when nil.
    /// - Throws: `CLIPTokenizerError.maxLengthTooSmall` when `maxLength` < 2.
    public func encode(_ text: String, maxLength: Int? = nil, pad: Bool = true) throws -> [Int] {
        let length = maxLength ?? modelMaxLength
        guard length >= 2 else { throw CLIPTokenizerError.maxLengthTooSmall(length) }
        var out = [bosTokenID]
        out.append(contentsOf: ids(text).prefix(length - 2))
        out.append(eosTokenID)
        if pad && out.count < length { out.append(contentsOf: repeatElement(padTokenID, count: length - out.count)) }
        return out
    }
}
