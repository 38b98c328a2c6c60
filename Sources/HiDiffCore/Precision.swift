/// The arithmetic a model's matrix work runs in, chosen per request and carried by the loaded weights (no
/// process-wide switch: two jobs in one process may use different precisions).
public enum Precision: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// float32 throughout: the exact mode and the default, equal to PyTorch's float32 within the parity
    /// tests' tolerances.
    case fp32
    /// Weights of linear layers and convolutions kept in bfloat16 (half their memory); those products and
    /// attention's two products take bfloat16 inputs and accumulate in float32 (AMX or AVX512-BF16 through
    /// oneDNN where the CPU has them). Norms, softmax, activations and the scheduler stay float32.
    case bf16

    public var description: String { rawValue }

    /// The values a user may write, for error messages ("fp32, bf16").
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
