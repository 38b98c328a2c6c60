import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Opt-in per-kernel time accounting for benchmarks: with `HIDIFF_PROFILE` set in the environment, every
/// top-level kernel call adds its wall and process CPU seconds under its name (`hidiff bench unet` prints
/// the table). Disabled, the cost is one branch per kernel call.
public enum OpProfile {
    /// Whether `HIDIFF_PROFILE` was set at startup.
    public static let enabled: Bool = getenv("HIDIFF_PROFILE") != nil

    /// Calls, wall seconds and CPU seconds of one kernel name.
    public struct Entry: Sendable {
        public var name: String
        public var calls: Int
        public var wallSeconds: Double
        public var cpuSeconds: Double
    }

    private static let table = Mutex<[String: Entry]>([:])

    /// Every kernel's totals since the last `reset()`, largest CPU time first.
    public static func snapshot() -> [Entry] {
        table.withLock { Array($0.values) }.sorted { $0.cpuSeconds > $1.cpuSeconds }
    }

    /// Clears the totals.
    public static func reset() {
        table.withLock { $0.removeAll() }
    }

    static func add(_ name: String, wall: Double, cpu: Double) {
        table.withLock { t in
            var e = t[name] ?? Entry(name: name, calls: 0, wallSeconds: 0, cpuSeconds: 0)
            e.calls += 1
            e.wallSeconds += wall
            e.cpuSeconds += cpu
            t[name] = e
        }
    }
}

/// Runs `body`, charging its time to `name` when profiling is on. Process CPU time includes other threads,
/// so only kernels that run one at a time (the U-Net's) are charged correctly.
@inline(__always)
func profiled<R>(_ name: @autoclosure () -> String, _ body: () throws -> R) rethrows -> R {
    guard OpProfile.enabled else { return try body() }
    let (w0, c0) = (ProcessStats.now(), ProcessStats.cpuSeconds())
    let r = try body()
    OpProfile.add(name(), wall: ProcessStats.now() - w0, cpu: ProcessStats.cpuSeconds() - c0)
    return r
}
