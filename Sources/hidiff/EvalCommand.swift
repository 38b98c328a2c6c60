import ArgumentParser

/// `hidiff eval`: quality benchmarks of the engine.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Quality benchmarks.",
        subcommands: [EvalDuplicationCommand.self])
}
