/// A field of a `GenerationRequest` that validation can refuse: its JSON key path (`rawValue`, as stored
/// with a job) and the command-line option that sets it, so each caller names it the way its user wrote it.
public enum RequestField: String, Sendable, CaseIterable {
    case prompt
    case negativePrompt = "negative_prompt"
    case prompt2 = "prompt_2"
    case negativePrompt2 = "negative_prompt_2"
    case width, height, steps
    case guidanceScale = "guidance_scale"
    case strength
    case t1Ratio = "hidiffusion_settings.t1Ratio"
    case t2Ratio = "hidiffusion_settings.t2Ratio"
    case windowShift = "hidiffusion_settings.windowShift"

    /// The `hidiff generate` / `hidiff submit` option, e.g. `--cfg-scale`.
    public var option: String {
        switch self {
        case .prompt: "--prompt"
        case .negativePrompt: "--negative-prompt"
        case .prompt2: "--prompt-2"
        case .negativePrompt2: "--negative-prompt-2"
        case .width: "--width"
        case .height: "--height"
        case .steps: "--steps"
        case .guidanceScale: "--cfg-scale"
        case .strength: "--strength"
        case .t1Ratio: "--t1-ratio"
        case .t2Ratio: "--t2-ratio"
        case .windowShift: "--msw-shift"
        }
    }
}
