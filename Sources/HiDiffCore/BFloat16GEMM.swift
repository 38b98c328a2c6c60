import CDNNL
import HiDiffKernels
import Synchronization

/// bfloat16 matrix products with float32 accumulation and results, through oneDNN's matmul primitive: AMX
/// tiles where the CPU has them, AVX512-BF16 otherwise, and oneDNN's own conversions on CPUs with neither
/// (slower, same arithmetic).
///
/// One engine per process and a cache of primitives by shape (building one costs far more than running a
/// small one); both are only ever added to, and each call brings its own stream and scratchpad, so calls
/// from several threads at once are safe and do not disturb each other.
public final class BFloat16GEMM: @unchecked Sendable {
    /// The process's instance, or the error that kept oneDNN from starting.
    public static let shared: Result<BFloat16GEMM, BFloat16GEMMError> = {
        do throws(BFloat16GEMMError) { return .success(try BFloat16GEMM()) } catch { return .failure(error) }
    }()

    let engine: dnnl_engine_t
    private let primitives = Mutex<[Shape: dnnl_primitive_t]>([:])
    /// Built convolutions by shape (`BFloat16Convolution.swift`).
    let convolutionPlans = Mutex<[BFloat16ConvolutionShape: BFloat16ConvolutionPlan]>([:])
    /// False when oneDNN has no bfloat16 matmul for this CPU: products are then computed by `gemmByConversion`.
    /// Set once, in `init`.
    public private(set) var usesOneDNN = true

    struct Shape: Hashable {
        var m, n, k, lda, ldb, ldc: Int
        var transA, transB: Bool
        var alpha, beta: UInt32
        /// Whether C gets a float32 bias per column.
        var bias = false
        /// A and B in float32 rather than bfloat16 (`gemmFloat32`).
        var float32 = false
    }

    private init() throws(BFloat16GEMMError) {
        var engine: dnnl_engine_t?
        try Self.check(dnnl_engine_create(&engine, dnnl_cpu, 0), "create a CPU engine")
        self.engine = engine!
        // A CPU without AVX512 may have no bfloat16 matmul in this oneDNN: find out once, with a 1x1 product.
        let probe = Shape(m: 1, n: 1, k: 1, lda: 1, ldb: 1, ldc: 1, transA: false, transB: false,
                          alpha: Float(1).bitPattern, beta: 0)
        do throws(BFloat16GEMMError) {
            _ = try primitive(for: probe)
        } catch where error.status == 3 {
            usesOneDNN = false
        }
    }

    /// The instruction set oneDNN's kernels use on this CPU (e.g. "avx512_core_amx").
    public static var instructionSet: String {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx2: return "avx2"
        case dnnl_cpu_isa_avx: return "avx"
        case dnnl_cpu_isa_sse41: return "sse41"
        default: return "other"
        }
    }

    /// Whether the CPU multiplies bfloat16 natively (AMX or AVX512-BF16).
    public static var isNative: Bool {
        [dnnl_cpu_isa_avx512_core_amx, dnnl_cpu_isa_avx512_core_bf16].contains(dnnl_get_effective_cpu_isa())
    }

    /// Runs `body` with this thread's oneDNN products on one core, for kernels that split their work over
    /// the cores themselves (attention tiles): OpenMP's thread count is per calling thread, so other threads
    /// are not affected.
    public static func withOneThreadPerProduct<R>(_ body: () throws -> R) rethrows -> R {
        let saved = omp_get_max_threads()
        omp_set_num_threads(1)
        defer { omp_set_num_threads(saved) }
        return try body()
    }

    /// Row-major C = alpha * op(A) * op(B) + beta * C, as `sgemm` takes it, with A and B in bfloat16 (bit
    /// patterns, `bfloat16Bits`) and C in float32. op(A) is m x k, op(B) is k x n; leading dimensions are
    /// row strides of the stored matrices.
    ///
    /// With `bias` (float32, one value per column of C; beta must then be 0), C = A B + bias, the bias added in
    /// oneDNN's epilogue so C is written once. (A bias seeded into C and summed with beta = 1 costs two more
    /// passes over C. A bias per row runs on oneDNN 2.6's reference kernel, ~1000x slower: convolutions, whose
    /// bias is per row, seed their planes.)
    public func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int, beta: Float = 0,
                     c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil) throws(BFloat16GEMMError) {
        guard m > 0, n > 0 else { return }
        precondition(bias == nil || beta == 0, "a bias with beta 0 only")
        guard usesOneDNN else {
            return Self.gemmByConversion(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a,
                                         lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias)
        }
        try run(Shape(m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, transA: transA, transB: transB,
                      alpha: alpha.bitPattern, beta: beta.bitPattern, bias: bias != nil),
                a: a, b: b, c: c, bias: bias)
    }

    /// The same product with A and B in float32, on oneDNN's float32 kernels (single-threaded, as every
    /// product here), for `sgemm` callers whose A is large and used once: oneDNN's kernels read A where it
    /// lies, where OpenBLAS first copies it into its packed layout (attention's score tiles: a tenth of
    /// float32 attention's time went to that copy).
    public func gemmFloat32(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                            c: UnsafeMutablePointer<Float>, ldc: Int) throws(BFloat16GEMMError) {
        guard m > 0, n > 0 else { return }
        try run(Shape(m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, transA: transA, transB: transB,
                      alpha: alpha.bitPattern, beta: beta.bitPattern, float32: true),
                a: a, b: b, c: c, bias: nil)
    }

    private func run(_ shape: Shape, a: UnsafeRawPointer, b: UnsafeRawPointer, c: UnsafeMutablePointer<Float>,
                     bias: UnsafePointer<Float>?) throws(BFloat16GEMMError) {
        countProductFlops(2 * shape.m * shape.n * shape.k)
        let primitive = try self.primitive(for: shape)
        var pd: const_dnnl_primitive_desc_t?
        try Self.check(dnnl_primitive_get_primitive_desc(primitive, &pd), "query a matmul")
        var stream: dnnl_stream_t?
        try Self.check(dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)), "create a stream")
        defer { dnnl_stream_destroy(stream) }
        var memories: [dnnl_memory_t?] = []
        defer { for memory in memories { dnnl_memory_destroy(memory) } }
        func memory(_ desc: UnsafePointer<dnnl_memory_desc_t>, _ handle: UnsafeMutableRawPointer?) throws(BFloat16GEMMError)
            -> dnnl_memory_t {
            var memory: dnnl_memory_t?
            try Self.check(dnnl_memory_create(&memory, desc, engine, handle), "wrap a matrix")
            memories.append(memory)
            return memory!
        }
        let descs = try Self.descriptors(shape)
        let scratchDesc = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)!
        let scratchBytes = dnnl_memory_desc_get_size(scratchDesc)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(scratchBytes, 1), alignment: 64)
        defer { scratch.deallocate() }
        var args = [
            dnnl_exec_arg_t(arg: hidiff_dnnl_arg_src,
                            memory: try withUnsafePointer(to: descs.a) { d throws(BFloat16GEMMError) in try memory(d, UnsafeMutableRawPointer(mutating: a)) }),
            dnnl_exec_arg_t(arg: hidiff_dnnl_arg_weights,
                            memory: try withUnsafePointer(to: descs.b) { d throws(BFloat16GEMMError) in try memory(d, UnsafeMutableRawPointer(mutating: b)) }),
            dnnl_exec_arg_t(arg: hidiff_dnnl_arg_dst,
                            memory: try withUnsafePointer(to: descs.c) { d throws(BFloat16GEMMError) in try memory(d, UnsafeMutableRawPointer(c)) }),
        ]
        if let bias {
            args.append(dnnl_exec_arg_t(arg: hidiff_dnnl_arg_bias,
                                        memory: try withUnsafePointer(to: descs.bias) { d throws(BFloat16GEMMError) in try memory(d, UnsafeMutableRawPointer(mutating: bias)) }))
        }
        if scratchBytes > 0 {
            args.append(dnnl_exec_arg_t(arg: hidiff_dnnl_arg_scratchpad, memory: try memory(scratchDesc, scratch)))
        }
        try Self.check(dnnl_primitive_execute(primitive, stream, Int32(args.count), args), "run a matmul")
        try Self.check(dnnl_stream_wait(stream), "finish a matmul")
    }

    /// The same product on any CPU: A and B widened to float32 (exact: every bfloat16 is a float32) and
    /// multiplied by `sgemm`, so the products are exact and the sums are float32's, as in oneDNN's kernels
    /// (the order of the additions may differ).
    public static func gemmByConversion(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                                        alpha: Float = 1, a: UnsafePointer<UInt16>, lda: Int,
                                        b: UnsafePointer<UInt16>, ldb: Int, beta: Float = 0,
                                        c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil) {
        guard m > 0, n > 0 else { return }
        if let bias {
            for i in 0..<m { (c + i * ldc).update(from: bias, count: n) }
        }
        let beta: Float = bias == nil ? beta : 1
        // The stored matrices, packed: rows x columns with their own row strides.
        func widened(_ x: UnsafePointer<UInt16>, rows: Int, columns: Int, stride: Int) -> [Float] {
            [Float](unsafeUninitializedCapacity: rows * columns) { out, count in
                for r in 0..<rows {
                    convertFromBFloat16(x + r * stride, out.baseAddress! + r * columns, count: columns)
                }
                count = rows * columns
            }
        }
        let (rowsA, colsA) = transA ? (k, m) : (m, k)
        let (rowsB, colsB) = transB ? (n, k) : (k, n)
        let a32 = widened(a, rows: rowsA, columns: colsA, stride: lda)
        let b32 = widened(b, rows: rowsB, columns: colsB, stride: ldb)
        a32.withUnsafeBufferPointer { pa in
            b32.withUnsafeBufferPointer { pb in
                sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: colsA,
                      b: pb.baseAddress!, ldb: colsB, beta: beta, c: c, ldc: ldc)
            }
        }
    }

    /// The cached primitive for `shape`, built on first use.
    private func primitive(for shape: Shape) throws(BFloat16GEMMError) -> dnnl_primitive_t {
        if let p = primitives.withLock({ $0[shape] }) { return p }
        var descs = try Self.descriptors(shape)
        var op = dnnl_matmul_desc_t()
        if shape.bias {
            try Self.check(dnnl_matmul_desc_init(&op, &descs.a, &descs.b, &descs.bias, &descs.c), "describe a matmul")
        } else {
            try Self.check(dnnl_matmul_desc_init(&op, &descs.a, &descs.b, nil, &descs.c), "describe a matmul")
        }
        var attr: dnnl_primitive_attr_t?
        try Self.check(dnnl_primitive_attr_create(&attr), "create matmul attributes")
        defer { dnnl_primitive_attr_destroy(attr) }
        try Self.check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set the scratchpad")
        let alpha = Float(bitPattern: shape.alpha), beta = Float(bitPattern: shape.beta)
        if alpha != 1 {
            var scale = alpha
            try Self.check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale), "scale a matmul")
        }
        if beta != 0 {
            var ops: dnnl_post_ops_t?
            try Self.check(dnnl_post_ops_create(&ops), "create post-ops")
            defer { dnnl_post_ops_destroy(ops) }
            try Self.check(dnnl_post_ops_append_sum(ops, beta), "accumulate into C")
            try Self.check(dnnl_primitive_attr_set_post_ops(attr, ops), "attach post-ops")
        }
        var pd: dnnl_primitive_desc_t?
        try withUnsafePointer(to: &op) { p throws(BFloat16GEMMError) in
            try Self.check(dnnl_primitive_desc_create(&pd, UnsafeRawPointer(p).assumingMemoryBound(to: dnnl_op_desc_t.self), attr, engine, nil),
                           "plan a \(shape.m)x\(shape.k) by \(shape.k)x\(shape.n) bfloat16 matmul")
        }
        defer { dnnl_primitive_desc_destroy(pd) }
        var primitive: dnnl_primitive_t?
        try Self.check(dnnl_primitive_create(&primitive, pd), "build a matmul")
        return primitives.withLock { cache in
            if let existing = cache[shape] {
                dnnl_primitive_destroy(primitive)
                return existing
            }
            cache[shape] = primitive!
            return primitive!
        }
    }

    /// A, B (bfloat16) and C (float32) as strided row-major matrices, transposes as swapped strides.
    private static func descriptors(_ s: Shape) throws(BFloat16GEMMError)
        -> (a: dnnl_memory_desc_t, b: dnnl_memory_desc_t, c: dnnl_memory_desc_t, bias: dnnl_memory_desc_t) {
        func desc(_ rows: Int, _ columns: Int, _ rowStride: Int, _ columnStride: Int,
                  _ type: dnnl_data_type_t) throws(BFloat16GEMMError) -> dnnl_memory_desc_t {
            var md = dnnl_memory_desc_t()
            let dims: [Int64] = [Int64(rows), Int64(columns)]
            let strides: [Int64] = [Int64(rowStride), Int64(columnStride)]
            try check(dnnl_memory_desc_init_by_strides(&md, 2, dims, type, strides), "describe a \(rows)x\(columns) matrix")
            return md
        }
        let input = s.float32 ? dnnl_f32 : dnnl_bf16
        return (try s.transA ? desc(s.m, s.k, 1, s.lda, input) : desc(s.m, s.k, s.lda, 1, input),
                try s.transB ? desc(s.k, s.n, 1, s.ldb, input) : desc(s.k, s.n, s.ldb, 1, input),
                try desc(s.m, s.n, s.ldc, 1, dnnl_f32),
                try desc(1, s.n, s.n, 1, dnnl_f32))
    }

    static func check(_ status: dnnl_status_t, _ what: String) throws(BFloat16GEMMError) {
        guard status == dnnl_success else { throw BFloat16GEMMError(what: what, status: Int(status.rawValue)) }
    }
}

/// oneDNN refused a call; `status` is its dnnl_status_t.
public struct BFloat16GEMMError: Error, CustomStringConvertible, Sendable {
    public var what: String
    public var status: Int

    public var description: String {
        let names = [1: "out of memory", 2: "invalid arguments", 3: "unimplemented", 5: "runtime error",
                     7: "not required"]
        return "oneDNN could not \(what): \(names[status] ?? "status \(status)")"
    }
}

/// `BFloat16GEMM.shared.gemm` for layers, which do not throw.
///
/// oneDNN's own threads (OpenMP) are never used: with `split`, the product is cut into one column or row
/// block per core and each block runs on one of our threads as a one-thread product. OpenMP's teams wait at
/// a spinning barrier for their slowest thread, which on a loaded machine (other workers, builds) stretched
/// a 256^3 product from 0.1 ms to 2.4 ms; our blocks need no barrier beyond the join. Kernels that already
/// split their work over the cores (attention tiles) pass `split: false`.
///
/// A model is only loaded in bfloat16 once `BFloat16GEMM.shared` has started (`Precision.checkAvailable`),
/// so the conversion path here serves only a process that skipped that check; a oneDNN failure in the
/// middle of a product (it allocates nothing of its own: we pass the scratchpad) is a bug, and stops the
/// process with oneDNN's reason.
public func bfloat16GEMM(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                  a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int, beta: Float = 0,
                  c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil,
                  split: Bool = true) {
    guard m > 0, n > 0 else { return }
    // About 8 MFLOP per block at least: below that the ~10 us a call costs outweighs a second core.
    let parts = split ? max(1, min(ProcessInfoCores.count, 2 * m * n * k / (8 << 20))) : 1
    guard parts > 1 else {
        BFloat16GEMM.withOneThreadPerProduct {
            bfloat16GEMMBlock(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                              b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias)
        }
        return
    }
    // Cut the longer side of C into blocks of a multiple of 16 (whole AMX tiles).
    let alongColumns = n >= m
    let side = alongColumns ? n : m
    let block = ((side + parts - 1) / parts + 15) / 16 * 16
    let blocks = (side + block - 1) / block
    parallelWorkers(blocks) { i in
        let lo = i * block, len = min(block, side - lo)
        BFloat16GEMM.withOneThreadPerProduct {
            if alongColumns {
                bfloat16GEMMBlock(transA: transA, transB: transB, m: m, n: len, k: k, alpha: alpha, a: a, lda: lda,
                                  b: transB ? b + lo * ldb : b + lo, ldb: ldb, beta: beta, c: c + lo, ldc: ldc,
                                  bias: bias.map { $0 + lo })
            } else {
                bfloat16GEMMBlock(transA: transA, transB: transB, m: len, n: n, k: k, alpha: alpha,
                                  a: transA ? a + lo : a + lo * lda, lda: lda, b: b, ldb: ldb, beta: beta,
                                  c: c + lo * ldc, ldc: ldc, bias: bias)
            }
        }
    }
}

/// One product on the calling thread.
@inline(__always)
private func bfloat16GEMMBlock(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                               a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int, beta: Float,
                               c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?) {
    switch BFloat16GEMM.shared {
    case let .success(engine):
        do {
            try engine.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                            b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias)
        } catch {
            fatalError("\(error)")
        }
    case .failure:
        BFloat16GEMM.gemmByConversion(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a,
                                      lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias)
    }
}

extension Precision {
    /// Throws when this precision cannot run in this process: bfloat16 needs oneDNN to have started.
    public func checkAvailable() throws {
        if self == .bf16, case let .failure(error) = BFloat16GEMM.shared {
            throw PrecisionError.unavailable(precision: self, reason: error.description)
        }
    }
}

/// A precision this process cannot run.
public enum PrecisionError: Error, CustomStringConvertible, Sendable {
    case unavailable(precision: Precision, reason: String)

    public var description: String {
        switch self {
        case let .unavailable(precision, reason):
            return "precision \(precision) is unavailable here: \(reason); use --precision fp32"
        }
    }
}

/// `sgemm` as one single-threaded oneDNN product on the calling thread (`BFloat16GEMM.gemmFloat32`), for
/// kernels that split their work over the cores themselves; plain `sgemm` where oneDNN did not start.
func float32GEMMOnOneThread(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard case let .success(engine) = BFloat16GEMM.shared, engine.usesOneDNN else {
        return sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                     ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
    BFloat16GEMM.withOneThreadPerProduct {
        do {
            try engine.gemmFloat32(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                                   b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        } catch {
            fatalError("\(error)")
        }
    }
}
