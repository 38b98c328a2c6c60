import ArgumentParser
import HiDiffCore

/// The process entry. First of all, before any work: when OpenBLAS fell back to kernels older than the CPU
/// supports (an OpenBLAS that does not know the CPU model, or an inherited `OPENBLAS_CORETYPE` naming older
/// kernels), or would let its idle threads spin, re-execute
/// with `OPENBLAS_CORETYPE` / `OPENBLAS_THREAD_TIMEOUT` set, since the library reads them only while
/// loading. Then the command line.
@main
enum HiDiffMain {
    static func main() async {
        OpenBLASCoreType.reexecIfKernelsFellBack()
        await HiDiff.main()
    }
}

/// The `hidiff` command line.
struct HiDiff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hidiff",
        abstract: "HiDiffusion: Stable Diffusion far above its training resolution, on CPUs.",
        subcommands: [GenerateCommand.self, SubmitCommand.self, StatusCommand.self, WaitCommand.self,
                      ResultCommand.self, CancelCommand.self, AdminCommand.self, MigrateCommand.self,
                      CoordinatorCommand.self, WorkerCommand.self, BenchCommand.self, EvalCommand.self,
                      CompareCommand.self])
}
