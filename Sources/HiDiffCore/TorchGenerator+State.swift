extension TorchGenerator {
    /// Everything that determines the rest of a generator's stream: the Mersenne Twister's words and
    /// position, and the Box-Muller value torch caches between scalar draws.
    ///
    /// Restoring it (`TorchGenerator(state:)`) continues the stream exactly where it was saved, in this or
    /// another process. Its `Codable` form stores the cached value as its bit pattern, so a JSON round trip
    /// is exact.
    public struct State: Sendable, Equatable, Codable {
        /// The Mersenne Twister's 624 state words.
        public var words: [UInt32]
        /// How many of `words` the engine has used since it last regenerated them (0...624).
        public var wordIndex: Int
        /// The second value of torch's double-precision Box-Muller pair, waiting for the next scalar draw.
        public var cachedNormal: Double?

        /// A state from its parts; `TorchGenerator(state:)` checks them.
        public init(words: [UInt32], wordIndex: Int, cachedNormal: Double?) {
            self.words = words
            self.wordIndex = wordIndex
            self.cachedNormal = cachedNormal
        }

        enum CodingKeys: String, CodingKey {
            case words = "mt19937"
            case wordIndex = "index"
            case cachedNormalBits = "cached_normal_bits"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            words = try c.decode([UInt32].self, forKey: .words)
            wordIndex = try c.decode(Int.self, forKey: .wordIndex)
            cachedNormal = try c.decodeIfPresent(UInt64.self, forKey: .cachedNormalBits).map(Double.init(bitPattern:))
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(words, forKey: .words)
            try c.encode(wordIndex, forKey: .wordIndex)
            try c.encodeIfPresent(cachedNormal?.bitPattern, forKey: .cachedNormalBits)
        }
    }

    /// The generator's current state; `TorchGenerator(state:)` continues the stream from it.
    public var state: State {
        State(words: engine.words, wordIndex: engine.wordIndex, cachedNormal: cachedNormal)
    }

    /// A generator continuing the stream `state` was saved from.
    ///
    /// - Throws: `TorchGeneratorError.invalidState` when `state` cannot come from a generator (word count,
    ///   position out of range, a non-finite cached value).
    public init(state: State) throws {
        guard state.words.count == 624 else {
            throw TorchGeneratorError.invalidState(reason: "\(state.words.count) Mersenne Twister words, expected 624")
        }
        guard let engine = MersenneTwister(words: state.words, wordIndex: state.wordIndex) else {
            throw TorchGeneratorError.invalidState(reason: "word index \(state.wordIndex) is outside 0...624")
        }
        if let cached = state.cachedNormal, !cached.isFinite {
            throw TorchGeneratorError.invalidState(reason: "cached normal value \(cached) is not finite")
        }
        self.init(engine: engine, cachedNormal: state.cachedNormal)
    }
}
