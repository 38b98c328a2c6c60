import HiDiffSchedulers

/// AUTOMATIC1111's sampler names and aliases, and the hidiff scheduler each one runs.
public struct A1111Sampler: Sendable, Equatable {
    /// The name A1111 lists (`/sdapi/v1/samplers`).
    public let name: String
    public let aliases: [String]
    public let kind: SchedulerKind
    /// Whether the name itself asks for Karras sigmas (A1111 before 1.9 named "DPM++ 2M Karras").
    public var karras = false

    /// What `/sdapi/v1/samplers` lists.
    public static let listed: [A1111Sampler] = [
        A1111Sampler(name: "Euler a", aliases: ["k_euler_a", "k_euler_ancestral"], kind: .eulerAncestral),
        A1111Sampler(name: "Euler", aliases: ["k_euler"], kind: .euler),
        A1111Sampler(name: "DDIM", aliases: ["ddim"], kind: .ddim),
        A1111Sampler(name: "PNDM", aliases: ["PLMS", "plms"], kind: .pndm),
        A1111Sampler(name: "DPM++ 2M", aliases: ["k_dpmpp_2m"], kind: .dpmSolverMultistep),
    ]

    /// Older names that carry the schedule in them.
    private static let legacy: [A1111Sampler] = [
        A1111Sampler(name: "DPM++ 2M Karras", aliases: ["k_dpmpp_2m_ka"], kind: .dpmSolverMultistep, karras: true),
        A1111Sampler(name: "Euler Karras", aliases: [], kind: .euler, karras: true),
    ]

    /// The sampler with this name or alias, in any case and spacing; nil when hidiff has none.
    public static func named(_ text: String) -> A1111Sampler? {
        let wanted = normalized(text)
        return (listed + legacy).first { sampler in
            ([sampler.name] + sampler.aliases).contains { normalized($0) == wanted }
        }
    }

    /// Names in a 422's message.
    static var known: String { listed.map { "\"\($0.name)\"" }.joined(separator: ", ") }

    private static func normalized(_ text: String) -> String {
        text.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
