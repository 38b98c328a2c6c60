import Foundation

/// Resource figures of this process, for benchmarks.
public enum ProcessStats {
    /// Peak resident set size in bytes (`getrusage` ru_maxrss), or nil where unavailable.
    public static func peakResidentBytes() -> Int? {
        // getrusage, not /proc/self/status: Foundation reads /proc files (size 0) as empty.
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return nil }
        return Int(usage.ru_maxrss) * 1024   // ru_maxrss is in KiB on Linux
    }

    /// CPU seconds (user + system, all threads) this process has used so far; unlike wall time it stays
    /// meaningful when other jobs share the cores.
    public static func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Monotonic seconds, for timing.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
