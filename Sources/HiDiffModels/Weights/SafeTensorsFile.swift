import HiDiffCore

/// A safetensors checkpoint, memory-mapped (or safetensors bytes held in memory); tensors are converted to
/// float32 one at a time on `load`.
///
/// Opening reads and validates only the JSON header (offsets, dtypes and shapes against the file size),
/// so a corrupt or truncated file fails here, not halfway through building a model.
public struct SafeTensorsFile: TensorSource {
    /// The path the file was opened from (the name given to `init(bytes:name:)` for bytes).
    public let path: String
    /// The header's `__metadata__` (empty when absent).
    public let metadata: [String: String]
    /// Tensor names in the order of their data in the file.
    public let names: [String]

    private let file: any ByteRegion
    private let entries: [String: SafeTensorsHeader.Entry]
    private let dataStart: Int

    /// Maps the file at `path` and parses its header.
    ///
    /// - Throws: `WeightError.fileNotFound`, `.unreadable`, `.truncated`, `.badHeader`,
    ///   `.unsupportedDType` (a dtype the format does not define) or `.badTensorEntry`.
    public init(path: String) throws {
        try self.init(region: try MappedFile(path: path), path: path)
    }

    /// Parses safetensors bytes held in memory (e.g. received over the network), as `init(path:)` parses a
    /// file; `name` stands for the path in errors. The bytes are copied.
    ///
    /// - Throws: `WeightError.truncated`, `.badHeader`, `.unsupportedDType` or `.badTensorEntry`.
    public init(bytes: [UInt8], name: String = "<memory>") throws {
        try self.init(region: MemoryRegion(bytes), path: name)
    }

    private init(region: any ByteRegion, path: String) throws {
        let header = try SafeTensorsHeader(base: region.base, fileSize: region.size, file: path)
        self.path = path
        self.file = region
        self.metadata = header.metadata
        self.entries = header.entries
        self.dataStart = header.dataStart
        self.names = header.entries.sorted { ($0.value.begin, $0.key) < ($1.value.begin, $1.key) }.map(\.key)
    }

    public var origin: String { path }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    public func shape(of name: String) -> [Int]? { entries[name]?.shape }

    /// The element type stored for `name`, or nil when it is absent.
    public func dtype(of name: String) -> SafeTensorsDType? { entries[name]?.dtype }

    /// Reads `name`, converting F16/BF16/F64 and integer types to float32.
    ///
    /// - Throws: `WeightError.missing` (name and file) or `.unsupportedDType`.
    public func load(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw WeightError.missing(name: name, file: path) }
        if case .unsupported = e.dtype {
            throw WeightError.unsupportedDType(name: name, dtype: e.dtype.name, file: path)
        }
        guard e.count > 0, let base = file.base else { return Tensor(zeros: e.shape) }
        let src = base + dataStart + e.begin
        return Tensor(shape: e.shape) { out in
            _ = e.dtype.convert(src, into: out)
        }
    }
}
