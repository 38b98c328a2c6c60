import COpenBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension OpenBLASCoreType {
    /// Set in the environment of a process re-executed with a corrected core type, as `<old>><new>` (e.g.
    /// `Prescott>Cooperlake`), or `OPENBLAS_CORETYPE=<old>><new>` when the old core came from an inherited
    /// `OPENBLAS_CORETYPE`; it keeps the process from re-executing again. Setting it to anything beforehand
    /// (e.g. `off`) disables the correction and leaves `OPENBLAS_CORETYPE` as it is.
    public static let markerVariable = "HIDIFF_OPENBLAS_COREFIX"

    /// A core type correction: the kernels OpenBLAS ran and the ones it was made to use.
    public struct Correction: Sendable, Equatable, CustomStringConvertible {
        /// The core OpenBLAS ran before the correction.
        public var from: String
        /// The `OPENBLAS_CORETYPE` set instead.
        public var to: String
        /// Whether `from` was asked for by an `OPENBLAS_CORETYPE` the process inherited (some machine images
        /// set an old core type for every process), rather than picked by OpenBLAS itself.
        public var inherited: Bool

        public init(from: String, to: String, inherited: Bool = false) {
            self.from = from
            self.to = to
            self.inherited = inherited
        }

        /// The marker's form: `<from>><to>`, prefixed by `OPENBLAS_CORETYPE=` when inherited.
        public var description: String { "\(inherited ? "OPENBLAS_CORETYPE=" : "")\(from)>\(to)" }

        /// Parses `description`; nil for anything else (e.g. `off`).
        public init?(marker: String) {
            let prefix = "OPENBLAS_CORETYPE="
            let inherited = marker.hasPrefix(prefix)
            let parts = marker.dropFirst(inherited ? prefix.count : 0).split(separator: ">", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
            self.init(from: parts[0], to: parts[1], inherited: inherited)
        }

        /// What the kernel summary says after the core's name, e.g. "corrected from Prescott" or
        /// "corrected from Haswell, set by OPENBLAS_CORETYPE".
        public var summary: String { "corrected from \(from)\(inherited ? ", set by OPENBLAS_CORETYPE" : "")" }
    }

    /// The kernels the running OpenBLAS uses (`openblas_get_corename()`, e.g. `Prescott`, `SkylakeX`).
    public static var corename: String { openblas_get_corename().map { String(cString: $0) } ?? "" }

    /// The running OpenBLAS's build description (`openblas_get_config()`, e.g.
    /// `OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64`).
    public static var config: String { openblas_get_config().map { String(cString: $0) } ?? "" }

    /// The correction this process runs under (from `markerVariable`), or nil when OpenBLAS kept its choice.
    public static var appliedCorrection: Correction? {
        ProcessInfo.processInfo.environment[markerVariable].flatMap(Correction.init(marker:))
    }

    /// The correction this process should make, or nil: when `markerVariable` is already set, or
    /// `recommended(...)` finds nothing better than the running kernels.
    public static func neededCorrection(environment: [String: String] = ProcessInfo.processInfo.environment) -> Correction? {
        guard environment[markerVariable] == nil,
              let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        let cpu = parseCPUInfo(text)
        return correction(environment: environment, vendor: cpu.vendor, flags: cpu.flags, corename: corename,
                          config: config)
    }

    /// The decision behind `neededCorrection`, from its inputs: OpenBLAS's running `corename` and `config`,
    /// the CPU's `vendor` and `flags`. An inherited `OPENBLAS_CORETYPE` older than the CPU supports is
    /// corrected too (measured on an AMD Zen 5 whose image sets `Haswell` for every process: SGEMM 277 GFLOPS
    /// against 493 with the AVX-512 kernels); `markerVariable` set to anything keeps whatever runs.
    public static func correction(environment: [String: String], vendor: String, flags: Set<String>,
                                  corename: String, config: String) -> Correction? {
        guard environment[markerVariable] == nil,
              let better = recommended(vendor: vendor, flags: flags, corename: corename, config: config) else {
            return nil
        }
        return Correction(from: corename, to: better, inherited: environment["OPENBLAS_CORETYPE"] != nil)
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
