import Foundation
import HiDiffCore

/// A diffusers pipeline folder (`save_pretrained` layout): `model_index.json` plus one folder per
/// component (`unet/`, `vae/`, `text_encoder/`, `tokenizer/`, `scheduler/`, ...).
public struct DiffusersFolder: Sendable {
    /// A `model_index.json` entry such as `"unet": ["diffusers", "UNet2DConditionModel"]`.
    public struct Component: Sendable, Equatable {
        /// The library that defines the class ("diffusers", "transformers"), nil for `[null, null]`.
        public let library: String?
        /// The class name, nil for an absent optional component (e.g. `"safety_checker": [null, null]`).
        public let className: String?

        public init(library: String?, className: String?) {
            self.library = library
            self.className = className
        }
    }

    /// The folder path.
    public let path: String
    /// The pipeline class (`_class_name`), e.g. "StableDiffusionPipeline".
    public let className: String?
    /// The components listed in `model_index.json`, by name.
    public let components: [String: Component]

    /// Opens the folder and reads its `model_index.json`.
    ///
    /// - Throws: `WeightError.notDiffusersFolder` when there is no model_index.json, `.badConfig` when it
    ///   is not a JSON object.
    public init(path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw WeightError.fileNotFound(path: path)
        }
        guard isDir.boolValue else {
            throw WeightError.notDiffusersFolder(path: path)
        }
        let indexPath = path + "/model_index.json"
        guard FileManager.default.fileExists(atPath: indexPath) else {
            throw WeightError.notDiffusersFolder(path: path)
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: try Self.read(indexPath))
        } catch let e as WeightError {
            throw e
        } catch {
            throw WeightError.badConfig(file: indexPath, reason: "malformed JSON: \(error)")
        }
        guard let index = object as? [String: Any] else {
            throw WeightError.badConfig(file: indexPath, reason: "the top level is not a JSON object")
        }
        self.path = path
        self.className = index["_class_name"] as? String
        var components: [String: Component] = [:]
        for (key, value) in index where !key.hasPrefix("_") {
            guard let pair = value as? [Any], pair.count == 2 else { continue }   // flags like requires_safety_checker
            components[key] = Component(library: pair[0] as? String, className: pair[1] as? String)
        }
        self.components = components
    }

    /// The folder of a component, e.g. `<root>/unet`.
    public func componentPath(_ name: String) -> String {
        path.hasSuffix("/") ? path + name : path + "/" + name
    }

    /// Decodes `<component>/config.json` (or `scheduler_config.json`, the name diffusers gives scheduler
    /// configs, when there is no config.json).
    public func config<T: Decodable>(_ component: String, as type: T.Type) throws -> T {
        let dir = componentPath(component)
        let file = FileManager.default.fileExists(atPath: dir + "/config.json")
            || !FileManager.default.fileExists(atPath: dir + "/scheduler_config.json")
            ? "config.json" : "scheduler_config.json"
        return try config(component, file: file, as: type)
    }

    /// Decodes the JSON file `<component>/<file>`; errors name the file and the field. Model configs
    /// (`ConfigValueChecking`) are range-checked too: `ModelConfigError.outOfRange` names the file.
    public func config<T: Decodable>(_ component: String, file: String, as type: T.Type) throws -> T {
        let full = componentPath(component) + "/" + file
        let data = try Self.read(full)
        let value: T
        do {
            // JSON5 admits the -Infinity/NaN literals diffusers writes (e.g. lambda_min_clipped).
            let decoder = JSONDecoder()
            decoder.allowsJSON5 = true
            value = try decoder.decode(type, from: data)
        } catch {
            throw WeightError.badConfig(file: full, reason: describeDecodingError(error))
        }
        try (value as? any ConfigValueChecking)?.checkValues(file: full)
        return value
    }

    /// Weight file names tried in order: with a `variant` only that variant's files, otherwise the plain
    /// files first and then the fp16 variant; single files before sharded indexes.
    public static func weightFileCandidates(variant: String? = nil) -> [String] {
        let stems = ["diffusion_pytorch_model", "model"]
        func files(_ v: String?) -> [String] {
            let suffix = v.map { ".\($0)" } ?? ""
            return stems.map { "\($0)\(suffix).safetensors" }
                + stems.map { "\($0).safetensors.index\(suffix).json" }
        }
        if let variant { return files(variant) }
        return files(nil) + files("fp16")
    }

    /// The weights file of `component` that `weights(_:variant:)` would open.
    ///
    /// - Throws: `WeightError.noWeightsFile` listing the names tried (and a hint when only unsupported
    ///   PyTorch `.bin` files are present).
    public func weightsFile(_ component: String, variant: String? = nil) throws -> String {
        let dir = componentPath(component)
        let fm = FileManager.default
        let tried = Self.weightFileCandidates(variant: variant)
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw WeightError.noWeightsFile(component: component, directory: dir, tried: tried,
                                            hint: "the component folder does not exist")
        }
        if let found = tried.first(where: { fm.fileExists(atPath: dir + "/" + $0) }) {
            return dir + "/" + found
        }
        let pickles = ["diffusion_pytorch_model.bin", "pytorch_model.bin"].filter { fm.fileExists(atPath: dir + "/" + $0) }
        let hint = pickles.isEmpty ? nil
            : "found \(pickles.joined(separator: ", ")): PyTorch pickle checkpoints are not supported, convert them to safetensors"
        throw WeightError.noWeightsFile(component: component, directory: dir, tried: tried, hint: hint)
    }

    /// The tensors of `component`: a memory-mapped safetensors file, or the shards of a sharded index.
    public func source(_ component: String, variant: String? = nil) throws -> any TensorSource {
        let file = try weightsFile(component, variant: variant)
        if file.hasSuffix(".json") { return try Self.shardedSource(index: file) }
        return try SafeTensorsFile(path: file)
    }

    /// The weights of `component`, e.g. `weights("unet")`.
    public func weights(_ component: String, variant: String? = nil) throws -> Weights {
        Weights(try source(component, variant: variant))
    }

    /// Opens the shards listed in a `*.safetensors.index.json` and checks that each listed tensor is in
    /// the shard the index names.
    static func shardedSource(index: String) throws -> MergedSource {
        struct Index: Decodable {
            var weightMap: [String: String]
            enum CodingKeys: String, CodingKey { case weightMap = "weight_map" }
        }
        let parsed: Index
        do {
            parsed = try JSONDecoder().decode(Index.self, from: try read(index))
        } catch let e as WeightError {
            throw e
        } catch {
            throw WeightError.badConfig(file: index, reason: describeDecodingError(error))
        }
        let dir = (index as NSString).deletingLastPathComponent
        var shards: [String: SafeTensorsFile] = [:]
        for file in Set(parsed.weightMap.values).sorted() {
            guard !file.contains("/") else {
                throw WeightError.badConfig(file: index, reason: "shard name '\(file)' is not a plain file name")
            }
            shards[file] = try SafeTensorsFile(path: dir + "/" + file)
        }
        for (name, file) in parsed.weightMap.sorted(by: { $0.key < $1.key }) where !shards[file]!.contains(name) {
            throw WeightError.missing(name: name, file: shards[file]!.path)
        }
        return try MergedSource(shards.sorted { $0.key < $1.key }.map(\.value))
    }

    static func read(_ path: String) throws -> Data {
        do {
            return try RegularFile.read(path, maxBytes: 64 << 20)
        } catch RegularFileError.notFound {
            throw WeightError.fileNotFound(path: path)
        } catch {
            throw WeightError.unreadable(path: path, reason: (error as? RegularFileError)?.reason ?? "\(error)")
        }
    }
}
