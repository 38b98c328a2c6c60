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

    /// Current and peak resident set size in bytes since the peak was last reset (`VmRSS`, `VmHWM` of
    /// /proc/self/status), or nil where unavailable.
    public static func residentBytes() -> (current: Int, peak: Int)? {
        // POSIX reads: /proc files report size 0, so whole-file readers see them empty.
        let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        func kib(_ key: String) -> Int? {
            String(decoding: bytes, as: UTF8.self).split(separator: "\n")
                .first { $0.hasPrefix(key + ":") }
                .flatMap { Int($0.dropFirst(key.count + 1).filter(\.isNumber)) }
        }
        guard let current = kib("VmRSS"), let peak = kib("VmHWM") else { return nil }
        return (current * 1024, peak * 1024)
    }

    /// Resets the peak `residentBytes()` reports to the current resident size (writes 5 to
    /// /proc/self/clear_refs), so a benchmark can measure the peak of one phase after loading; false where
    /// the kernel does not allow it.
    @discardableResult
    public static func resetPeakResident() -> Bool {
        let fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
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
