/// transformers' `CLIPTextConfig` (a text encoder's config.json), with transformers' defaults for absent
/// keys. A full `CLIPConfig` (`model_type` "clip") is read through its `text_config`, as
/// `CLIPTextConfig.from_pretrained` does.
public struct CLIPTextConfig: Sendable, Equatable, Decodable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    /// Width of `text_projection` (CLIPTextModelWithProjection only).
    public var projectionDim: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var maxPositionEmbeddings: Int
    public var hiddenAct: CLIPActivation
    public var layerNormEps: Double
    public var bosTokenID: Int?
    /// Decides the pooled position: 2 (as in SD's configs) means argmax of the ids, anything else the first
    /// occurrence of this id.
    public var eosTokenID: Int?
    public var padTokenID: Int?
    /// e.g. ["CLIPTextModel"] or ["CLIPTextModelWithProjection"].
    public var architectures: [String]

    public init(vocabSize: Int = 49408, hiddenSize: Int = 512, intermediateSize: Int = 2048, projectionDim: Int = 512,
                numHiddenLayers: Int = 12, numAttentionHeads: Int = 8, maxPositionEmbeddings: Int = 77,
                hiddenAct: CLIPActivation = .quickGelu, layerNormEps: Double = 1e-5, bosTokenID: Int? = 49406,
                eosTokenID: Int? = 49407, padTokenID: Int? = 1, architectures: [String] = []) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.projectionDim = projectionDim
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.padTokenID = padTokenID
        self.architectures = architectures
    }

    /// Whether the config names the projection head (`CLIPTextModelWithProjection`).
    public var hasProjection: Bool { architectures.contains("CLIPTextModelWithProjection") }

    /// Checks the values the model cannot run with.
    public func validate() throws {
        for (field, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize),
                               ("intermediate_size", intermediateSize), ("num_hidden_layers", numHiddenLayers),
                               ("num_attention_heads", numAttentionHeads),
                               ("max_position_embeddings", maxPositionEmbeddings)] where value <= 0 {
            throw ModelConfigError.invalid(field: field, reason: "must be positive, found \(value)")
        }
        if eosTokenID == nil {
            throw ModelConfigError.invalid(field: "eos_token_id",
                                           reason: "is null, so the pooled position is undefined")
        }
        if hiddenSize % numAttentionHeads != 0 {
            throw ModelConfigError.invalid(
                field: "hidden_size",
                reason: "\(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads)")
        }
        try checkValues(file: "text encoder config")
    }

    private enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case projectionDim = "projection_dim", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", maxPositionEmbeddings = "max_position_embeddings"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps", bosTokenID = "bos_token_id"
        case eosTokenID = "eos_token_id", padTokenID = "pad_token_id", architectures, modelType = "model_type"
        case textConfig = "text_config"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if try c.decodeIfPresent(String.self, forKey: .modelType) == "clip", c.contains(.textConfig) {
            var text = try c.decode(CLIPTextConfig.self, forKey: .textConfig)
            if text.architectures.isEmpty {
                text.architectures = try c.decodeIfPresent([String].self, forKey: .architectures) ?? []
            }
            self = text
            return
        }
        let d = CLIPTextConfig()
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim) ?? d.projectionDim
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? d.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings)
            ?? d.maxPositionEmbeddings
        if let act = try c.decodeIfPresent(String.self, forKey: .hiddenAct) {
            hiddenAct = try CLIPActivation(configValue: act)
        } else {
            hiddenAct = d.hiddenAct
        }
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? d.layerNormEps
        // An explicit null stays nil; an absent key takes transformers' default.
        bosTokenID = c.contains(.bosTokenID) ? try c.decodeIfPresent(Int.self, forKey: .bosTokenID) : d.bosTokenID
        eosTokenID = c.contains(.eosTokenID) ? try c.decodeIfPresent(Int.self, forKey: .eosTokenID) : d.eosTokenID
        padTokenID = c.contains(.padTokenID) ? try c.decodeIfPresent(Int.self, forKey: .padTokenID) : d.padTokenID
        architectures = try c.decodeIfPresent([String].self, forKey: .architectures) ?? []
    }
}
