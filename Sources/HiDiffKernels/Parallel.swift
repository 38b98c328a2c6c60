import Dispatch

/// Splits `0..<count` into at most `parts` contiguous ranges and runs `body` on them concurrently.
///
/// For memory-bound elementwise kernels only: BLAS calls already use every core and must not be nested
/// inside this.
@inlinable
public func parallelRanges(_ count: Int, minChunk: Int = 1 << 15, parts: Int = ProcessInfoCores.count,
                           _ body: (Range<Int>) -> Void) {
    let p = max(1, min(parts, count / max(minChunk, 1)))
    if p <= 1 {
        body(0..<count)
        return
    }
    let step = (count + p - 1) / p
    DispatchQueue.concurrentPerform(iterations: p) { i in
        let lo = i * step
        let hi = min(count, lo + step)
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(worker)` for `workers` workers concurrently (worker 0 on the calling thread when there is
/// only one). For kernels that hand out their own tasks, e.g. from an atomic counter.
@inlinable
public func parallelWorkers(_ workers: Int, _ body: (Int) -> Void) {
    if workers <= 1 {
        body(0)
        return
    }
    DispatchQueue.concurrentPerform(iterations: workers, execute: body)
}

/// The number of cores kernels split their work over: the online processors, or `HIDIFF_THREADS` when set
/// (e.g. 1 to time kernels on one core).
public enum ProcessInfoCores {
    public static let count: Int = {
        if let text = getenv("HIDIFF_THREADS"), let n = Int(String(cString: text)), n >= 1 { return n }
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 2
        #endif
    }()
}

#if canImport(Glibc)
import Glibc
#endif
