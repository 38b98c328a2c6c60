import COpenBLAS
import Synchronization

/// Floating-point operations issued through `sgemm` since process start (2mnk per call), for benchmarks.
public let gemmFlopCounter = Atomic<Int>(0)

/// The multiply-adds (x2) the model's layers represent as written, i.e. with every convolution counted as a
/// direct one: `gemmFlopCounter` plus what fast algorithms (Winograd) saved. This is the work PyTorch does,
/// so it is the figure to divide by time when comparing against the machine's SGEMM peak.
public let modelFlopCounter = Atomic<Int>(0)

/// Counts a product's (or a direct convolution's) floating-point operations on both counters: the kernels
/// that issue exactly what the model's layers represent.
@inlinable
func countProductFlops(_ flops: Int) {
    gemmFlopCounter.add(flops, ordering: .relaxed)
    modelFlopCounter.add(flops, ordering: .relaxed)
}

/// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, through OpenBLAS.
///
/// `op(A)` is m x k, `op(B)` is k x n, C is m x n; leading dimensions are row strides, which lets
/// callers address a head's columns inside a wider matrix without copying.
@inlinable
public func sgemm(transA: Bool = false, transB: Bool = false,
                  m: Int, n: Int, k: Int, alpha: Float = 1,
                  a: UnsafePointer<Float>, lda: Int,
                  b: UnsafePointer<Float>, ldb: Int,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    countProductFlops(2 * m * n * k)
    cblas_sgemm(CblasRowMajor,
                transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// How many callers are inside `withSingleThreadedBLAS`, and OpenBLAS's thread count before the first one.
private let singleThreadedBLAS = Mutex<(depth: Int, saved: Int32)>((0, 1))

/// Runs `body` with OpenBLAS limited to one thread per call, for kernels that split their work over the
/// cores themselves and call `sgemm` from several threads at once (attention tiles).
///
/// OpenBLAS's thread count is process-wide: the first caller lowers it and the last one restores it, so
/// overlapping callers (in-process stripes) are safe; other threads' GEMMs meanwhile run single-threaded.
public func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
    singleThreadedBLAS.withLock { state in
        if state.depth == 0 {
            state.saved = openblas_get_num_threads()
            if state.saved > 1 { openblas_set_num_threads(1) }
        }
        state.depth += 1
    }
    defer {
        singleThreadedBLAS.withLock { state in
            state.depth -= 1
            if state.depth == 0 && state.saved > 1 { openblas_set_num_threads(state.saved) }
        }
    }
    return try body()
}
