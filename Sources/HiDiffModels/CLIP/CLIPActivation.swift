import HiDiffCore

/// The MLP activation of a transformers text encoder (`hidden_act`, looked up in transformers' `ACT2FN`).
public enum CLIPActivation: String, Sendable, Equatable, Codable {
    /// x * sigmoid(1.702 x): OpenAI CLIP ViT-L/14 (SD 1.x, SDXL's first encoder).
    case quickGelu = "quick_gelu"
    /// Exact (erf) GELU: OpenCLIP ViT-H/14 and bigG/14 (SD 2.x, SDXL's second encoder).
    case gelu
    /// GELU's tanh approximation, under its transformers names.
    case geluNew = "gelu_new"
    case geluPytorchTanh = "gelu_pytorch_tanh"
    case geluFast = "gelu_fast"
    case relu
    case silu
    case swish

    /// Parses a `hidden_act` value; throws for names this port does not implement.
    public init(configValue: String) throws {
        guard let a = CLIPActivation(rawValue: configValue) else {
            throw ModelConfigError.unsupported(field: "hidden_act", value: configValue)
        }
        self = a
    }

    /// Applies the activation elementwise.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .quickGelu: return x.quickGelu()
        case .gelu: return x.gelu()
        case .geluNew, .geluPytorchTanh, .geluFast: return x.geluTanh()
        case .relu: return x.map { max($0, 0) }
        case .silu, .swish: return x.silu()
        }
    }
}
