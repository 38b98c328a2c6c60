/// Why a single-file checkpoint cannot be used; each case names the file and what was found.
public enum CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The tensor names match no layout hidiff reads.
    /// - Parameters:
    ///   - prefixes: the top-level key prefixes found (first two name components) with their tensor counts.
    ///   - examples: a few tensor names.
    case unknownLayout(file: String, prefixes: [String], examples: [String])
    /// The layout is known but a config value cannot be read off the tensors (e.g. a head count that is not
    /// the family's convention); a config folder is needed.
    case cannotDerive(file: String, field: String, reason: String)
    /// The checkpoint is a variant hidiff does not run (inpainting U-Net, refiner, ...).
    case unsupportedVariant(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unknownLayout(file, prefixes, examples):
            return "\(file) is not a Stable Diffusion checkpoint in a layout hidiff reads "
                + "(SD 1.x: model.diffusion_model.*, first_stage_model.*, cond_stage_model.transformer.*; "
                + "SD 2.x: ... cond_stage_model.model.*; SDXL: ... conditioner.embedders.{0,1}.*). "
                + "Found prefixes: \(prefixes.isEmpty ? "none (no tensors)" : prefixes.joined(separator: ", "))"
                + (examples.isEmpty ? "" : "; e.g. \(examples.joined(separator: ", "))")
        case let .cannotDerive(file, field, reason):
            return "cannot derive \(field) from the tensors of \(file): \(reason); "
                + "pass a diffusers folder with the model's configs (--model-config DIR)"
        case let .unsupportedVariant(file, reason):
            return "\(file): \(reason)"
        }
    }
}
