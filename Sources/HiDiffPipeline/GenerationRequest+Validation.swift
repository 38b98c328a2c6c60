import Foundation
import HiDiffModels

extension GenerationRequest {
    /// Decodes a request sent as JSON (a stored job, a `--request` file), with decoding errors explained by
    /// field path. It is not validated: call `problem()` or `validate()`.
    ///
    /// - Throws: `PipelineError.invalidRequest(field: "request", ...)`.
    public init(json: Data) throws {
        do {
            self = try JSONDecoder().decode(GenerationRequest.self, from: json)
        } catch {
            if let (field, reason) = Self.integerOutOfRange(json) {
                throw PipelineError.invalidRequest(field: field, reason: reason)
            }
            throw PipelineError.invalidRequest(field: "request", reason: describeDecodingError(error))
        }
    }

    /// The integer field whose number does not fit its type, in JSON that is otherwise well formed (the
    /// decoder reports such a number as "not valid JSON", which misleads).
    private static func integerOutOfRange(_ json: Data) -> (field: String, reason: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { return nil }
        let bounds: [(String, Decimal, Decimal)] = [
            ("seed", 0, Decimal(UInt64.max)),
            ("width", Decimal(Int.min), Decimal(Int.max)), ("height", Decimal(Int.min), Decimal(Int.max)),
            ("steps", Decimal(Int.min), Decimal(Int.max)),
        ]
        for (key, low, high) in bounds {
            guard let number = object[key] as? NSNumber, !(number is Bool) else { continue }
            // The number's own digits (a Double would round 2^63 - 1 up past Int.max).
            guard let value = Decimal(string: number.stringValue) else { continue }
            if value < low || value > high {
                return (key, "\(number) is out of range (\(low) to \(high))")
            }
        }
        return nil
    }

    /// What is wrong with this request on its own (no model needed), or nil when it is valid.
    ///
    /// The one rule set for every path that runs a request: the command line reports the problem under the
    /// option's name (`field.option`), the pipeline and the cluster under the JSON key. `reason` reads after
    /// the field's name, e.g. "--steps must be from 1 to 1000 (got -1)".
    public func problem() -> (field: RequestField, reason: String)? {
        let limits = GenerationLimits.self
        let prompts: [(RequestField, String?)] = [(.prompt, prompt), (.negativePrompt, negativePrompt),
                                                  (.prompt2, prompt2), (.negativePrompt2, negativePrompt2)]
        for case let (field, text?) in prompts where text.utf8.count > limits.maxPromptBytes {
            return (field, "must be at most \(limits.maxPromptBytes) bytes (got \(text.utf8.count))")
        }
        for case let (field, side?) in [(RequestField.width, width), (.height, height)]
        where side <= 0 || side % limits.sideMultiple != 0 || side > limits.maxSide {
            return (field, "must be a positive multiple of \(limits.sideMultiple) up to \(limits.maxSide) (got \(side))")
        }
        guard limits.steps.contains(steps) else {
            return (.steps, "must be from \(limits.steps.lowerBound) to \(limits.steps.upperBound) (got \(steps))")
        }
        // Checked in Float, the precision guidance is applied in: 1e300 is finite as a Double only.
        guard guidanceScale.isFinite, Float(guidanceScale).isFinite, abs(guidanceScale) <= limits.maxGuidance else {
            let m = Int(limits.maxGuidance)
            return (.guidanceScale, "must be a finite number from -\(m) to \(m) (got \(guidanceScale))")
        }
        guard strength > 0 && strength <= 1 else { return (.strength, "must be in (0, 1] (got \(strength))") }
        for case let (field, ratio?) in [(RequestField.t1Ratio, hidiffusionSettings.t1Ratio),
                                         (.t2Ratio, hidiffusionSettings.t2Ratio)] where !(ratio >= 0 && ratio <= 1) {
            return (field, "must be in 0...1 (got \(ratio))")
        }
        if case .fixed(let q) = hidiffusionSettings.windowShift, !(0...3).contains(q) {
            return (.windowShift, "must be seeded or 0...3 (got \(q))")
        }
        return nil
    }

    /// Throws `PipelineError.invalidRequest` naming the field's JSON key when `problem()` finds one.
    public func validate() throws {
        if let (field, reason) = problem() { throw PipelineError.invalidRequest(field: field.rawValue, reason: reason) }
    }
}
