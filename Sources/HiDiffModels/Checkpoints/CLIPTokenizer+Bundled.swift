import Foundation

extension CLIPTokenizer {
    /// The CLIP BPE vocabulary hidiff ships (`Resources/clip`: vocab.json, merges.txt), for checkpoints that
    /// carry no tokenizer (single files).
    public static var bundledVocabularyDirectory: String {
        Bundle.module.url(forResource: "clip", withExtension: nil)!.path
    }

    /// A tokenizer on the bundled vocabulary with transformers' defaults and `padToken`: "<|endoftext|>" for
    /// SD 1.x and SDXL's first encoder, "!" for SD 2.x and SDXL's second (OpenCLIP) encoder.
    public static func bundled(padToken: String) throws -> CLIPTokenizer {
        let dir = bundledVocabularyDirectory
        return try CLIPTokenizer(vocabularyFile: dir + "/vocab.json", mergesFile: dir + "/merges.txt", padToken: padToken)
    }
}
