import HiDiffCore

#if canImport(Glibc)
import Glibc
#endif

/// diffusers' `get_activation` names (the `act_fn` config field).
public enum DiffusersActivation: String, Sendable, Equatable {
    case silu, swish, gelu, relu, mish

    /// Parses an `act_fn` value; throws for names diffusers' `get_activation` does not know.
    public init(configValue: String, field: String) throws {
        guard let a = DiffusersActivation(rawValue: configValue.lowercased()) else {
            throw ModelConfigError.unsupported(field: field, value: configValue)
        }
        self = a
    }

    /// GroupNorm, then this activation: SiLU in the normalisation's own output pass
    /// (`Tensor.groupNormSiLU`), the others as a second pass.
    public func afterGroupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float,
                               collective: any Collective) throws -> Tensor {
        switch self {
        case .silu, .swish:
            return try x.groupNormSiLU(groups: groups, weight: weight, bias: bias, eps: eps, collective: collective)
        default:
            return self(try x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps, collective: collective))
        }
    }

    /// Applies the activation elementwise.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .silu, .swish: return x.silu()
        case .gelu: return x.gelu()
        case .relu: return x.map { max($0, 0) }
        case .mish: return x.map { v in v * tanhf(v > 20 ? v : log1pf(expf(v))) }
        }
    }
}
