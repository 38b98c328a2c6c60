/// Why a submission is refused: the field and a reason that reads after its name, e.g.
/// "must be from 1 to 100 (got 0)". Nothing is inserted for a submission with a problem.
public struct SubmissionProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// The refused field.
    public let field: SubmissionField
    /// What is wrong and, where it helps, what to do.
    public let reason: String
    /// True when the field names nothing (no field prefix reads well: "no worker has registered ...").
    public let standalone: Bool

    public init(_ field: SubmissionField, _ reason: String, standalone: Bool = false) {
        self.field = field
        self.reason = reason
        self.standalone = standalone
    }

    /// The message under the command-line option's name ("--max-attempts must be ...").
    public var optionMessage: String { standalone ? reason : "\(field.option) \(reason)" }
    /// The message under the JSON key ("max_attempts must be ...").
    public var keyMessage: String { standalone ? reason : "\(field.key) \(reason)" }
    public var description: String { keyMessage }
}
