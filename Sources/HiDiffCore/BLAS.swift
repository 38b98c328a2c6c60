import COpenBLAS
import Synchronization

/// Floating-point operations issued through `sgemm` since process start (2mnk per call), for benchmarks.
public let gemmFlopCounter = Atomic<Int>(0)

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
    gemmFlopCounter.add(2 * m * n * k, ordering: .relaxed)
    cblas_sgemm(CblasRowMajor,
                transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}
