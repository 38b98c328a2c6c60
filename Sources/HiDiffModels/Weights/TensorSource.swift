import HiDiffCore

/// Named float32 tensors from a checkpoint (safetensors, mmap; F32/F16/BF16 converted per tensor on read).
///
/// Conformers are cheap to share: they hold metadata and a read-only mapping, and convert a tensor
/// to float32 only when `load(_:)` is called for it.
public protocol TensorSource: Sendable {
    /// Every tensor name the source provides.
    var names: [String] { get }
    /// Whether `name` is present.
    func contains(_ name: String) -> Bool
    /// The shape of `name`, or nil when it is absent.
    func shape(of name: String) -> [Int]?
    /// Reads `name` as float32; throws `WeightError.missing(name:file:)` when it is absent.
    func load(_ name: String) throws -> Tensor
    /// Where the tensors come from (a file path or a short description), used in error messages.
    var origin: String { get }
    /// The origin of the file holding `name` (differs from `origin` for merged sources).
    func origin(of name: String) -> String
}

extension TensorSource {
    public func contains(_ name: String) -> Bool { shape(of: name) != nil }
    public var origin: String { String(describing: Self.self) }
    public func origin(of name: String) -> String { origin }
}
