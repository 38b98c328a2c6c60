import ArgumentParser

/// The `hidiff` command line.
@main
struct HiDiff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hidiff",
        abstract: "HiDiffusion: Stable Diffusion far above its training resolution, on CPUs.",
        subcommands: [GenerateCommand.self, BenchCommand.self, EvalCommand.self])
}
