import COpenBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension OpenBLASCoreType {
    /// Set in the environment of a process re-executed with a corrected core type, as `<old>><new>` (e.g.
    /// `Prescott>Cooperlake`); it keeps the process from re-executing again. Setting it to anything
    /// beforehand (e.g. `off`) disables the correction, as does setting `OPENBLAS_CORETYPE` yourself.
    public static let markerVariable = "HIDIFF_OPENBLAS_COREFIX"

    /// A core type correction: the kernels OpenBLAS chose and the ones it was made to use.
    public struct Correction: Sendable, Equatable, CustomStringConvertible {
        /// The core OpenBLAS picked by itself.
        public var from: String
        /// The `OPENBLAS_CORETYPE` set instead.
        public var to: String

        public init(from: String, to: String) {
            self.from = from
            self.to = to
        }

        public var description: String { "\(from)>\(to)" }
    }

    /// The kernels the running OpenBLAS uses (`openblas_get_corename()`, e.g. `Prescott`, `SkylakeX`).
    public static var corename: String { openblas_get_corename().map { String(cString: $0) } ?? "" }

    /// The running OpenBLAS's build description (`openblas_get_config()`, e.g.
    /// `OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64`).
    public static var config: String { openblas_get_config().map { String(cString: $0) } ?? "" }

    /// The correction this process runs under (from `markerVariable`), or nil when OpenBLAS kept its choice.
    public static var appliedCorrection: Correction? {
        guard let marker = ProcessInfo.processInfo.environment[markerVariable] else { return nil }
        let parts = marker.split(separator: ">", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        return Correction(from: parts[0], to: parts[1])
    }

    /// The correction this process should make, or nil: when `OPENBLAS_CORETYPE` or `markerVariable` is
    /// already set, or `recommended(...)` finds nothing better than the running kernels.
    public static func neededCorrection(environment: [String: String] = ProcessInfo.processInfo.environment) -> Correction? {
        guard environment["OPENBLAS_CORETYPE"] == nil, environment[markerVariable] == nil,
              let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        let cpu = parseCPUInfo(text)
        let current = corename
        guard let better = recommended(vendor: cpu.vendor, flags: cpu.flags, corename: current, config: config) else {
            return nil
        }
        return Correction(from: current, to: better)
    }

    /// OpenBLAS's idle threads spin (calling `sched_yield`) for 2^28 cycles, about 0.1 s, after every
    /// product before they sleep; meanwhile hidiff's own threads (softmax, norms, Winograd transforms, oneDNN
    /// blocks) run on the same cores, and the spinners took their time: measured a float32 U-Net forward
    /// 12-15% faster (13.2-14.7 CPU-s against 15.6-16.6) with the timeout at its minimum, 2^4 cycles. Set it
    /// yourself to keep another value.
    public static let threadTimeoutVariable = "OPENBLAS_THREAD_TIMEOUT"
    /// The timeout set when the environment has none (OpenBLAS's minimum: threads sleep once their work is done).
    public static let threadTimeout = "4"

    /// The variables to set before OpenBLAS loads: the core type when it fell back (with `markerVariable`),
    /// and the idle threads' timeout when the user set none. Empty when there is nothing to change.
    public static func neededEnvironment(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> [String: String] {
        var changes: [String: String] = [:]
        if let correction = neededCorrection(environment: environment) {
            changes["OPENBLAS_CORETYPE"] = correction.to
            changes[markerVariable] = correction.description
        }
        if environment[threadTimeoutVariable] == nil { changes[threadTimeoutVariable] = threadTimeout }
        return changes
    }

    /// Call first thing in `main`: when OpenBLAS's settings should change (see `neededEnvironment`: kernels
    /// older than the CPU supports, idle threads that spin), sets the variables and re-executes
    /// `/proc/self/exe` with the same arguments, so the library initialises again with them: it reads them
    /// only while loading. Returns when there is nothing to change, or when the exec failed (after a note
    /// on stderr; the run goes on as it is).
    public static func reexecIfKernelsFellBack(arguments: [String] = CommandLine.arguments) {
        let changes = neededEnvironment()
        guard !changes.isEmpty else { return }
        for (name, value) in changes { setenv(name, value, 1) }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)
        // Only reached when execv failed: undo, so the environment says what really runs.
        let reason = String(cString: strerror(errno))
        for name in changes.keys { unsetenv(name) }
        for p in argv { free(p) }
        let settings = changes.filter { $0.key != markerVariable }.map { "\($0.key)=\($0.value)" }.sorted()
        FileHandle.standardError.write(Data(
            "hidiff: re-executing with \(settings.joined(separator: " ")) for OpenBLAS failed (\(reason)); set them yourself for faster products\n".utf8))
    }
}
