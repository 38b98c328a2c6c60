import ArgumentParser

/// The `hidiff` command line.
@main
struct HiDiff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hidiff",
        abstract: "HiDiffusion: Stable Diffusion far above its training resolution.")
}
