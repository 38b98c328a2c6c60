import CDNNL
import HiDiffKernels
import Synchronization

/// One oneDNN convolution: a single image (or band of its output rows) in NHWC bfloat16, weights in the
/// layout oneDNN picks, float32 NHWC output with a float32 bias per channel.
struct BFloat16ConvolutionShape: Hashable, Sendable {
    var c, h, w, o, kh, kw, stride, dilation: Int
    var padTop, padLeft, padBottom, padRight: Int
    var bias: Bool

    var ho: Int { (h + padTop + padBottom - dilation * (kh - 1) - 1) / stride + 1 }
    var wo: Int { (w + padLeft + padRight - dilation * (kw - 1) - 1) / stride + 1 }
}

/// A built convolution primitive and the weight layout it reads.
final class BFloat16ConvolutionPlan: @unchecked Sendable {
    let primitive: dnnl_primitive_t
    /// The layout oneDNN chose for the weights, and its bytes as a key for `LayerWeight`'s reordered copies.
    let weightsDesc: dnnl_memory_desc_t
    let weightsKey: [UInt8]
    let scratchBytes: Int
    let shape: BFloat16ConvolutionShape

    /// oneDNN's name for the implementation it chose (e.g. "brgconv:avx512_core_amx_bf16").
    let implementation: String

    init(primitive: dnnl_primitive_t, weightsDesc: dnnl_memory_desc_t, scratchBytes: Int, shape: BFloat16ConvolutionShape,
         implementation: String) {
        self.primitive = primitive
        self.implementation = implementation
        self.weightsDesc = weightsDesc
        self.weightsKey = withUnsafeBytes(of: weightsDesc) { Array($0) }
        self.scratchBytes = scratchBytes
        self.shape = shape
    }

    /// Whether oneDNN runs this convolution on one of its optimised kernels rather than its reference loops
    /// (thousands of times slower: an NCHW output took 30 s for one 64x64 map).
    var isFast: Bool { !implementation.hasPrefix("ref") }
}

extension BFloat16GEMM {
    /// The cached plan for `shape`, built on first use.
    func convolutionPlan(_ shape: BFloat16ConvolutionShape) throws(BFloat16GEMMError) -> BFloat16ConvolutionPlan {
        if let plan = convolutionPlans.withLock({ $0[shape] }) { return plan }
        var src = dnnl_memory_desc_t(), weights = dnnl_memory_desc_t(), bias = dnnl_memory_desc_t(),
            dst = dnnl_memory_desc_t()
        try Self.check(dnnl_memory_desc_init_by_tag(&src, 4, [1, Int64(shape.c), Int64(shape.h), Int64(shape.w)],
                                                    dnnl_bf16, dnnl_nhwc), "describe a convolution's input")
        try Self.check(dnnl_memory_desc_init_by_tag(&weights, 4, [Int64(shape.o), Int64(shape.c), Int64(shape.kh),
                                                                   Int64(shape.kw)], dnnl_bf16, dnnl_format_tag_any),
                       "describe a convolution's weights")
        try Self.check(dnnl_memory_desc_init_by_tag(&bias, 1, [Int64(shape.o)], dnnl_f32, dnnl_x),
                       "describe a convolution's bias")
        try Self.check(dnnl_memory_desc_init_by_tag(&dst, 4, [1, Int64(shape.o), Int64(shape.ho), Int64(shape.wo)],
                                                    dnnl_f32, dnnl_nhwc), "describe a convolution's output")
        var op = dnnl_convolution_desc_t()
        let strides: [Int64] = [Int64(shape.stride), Int64(shape.stride)]
        let dilates: [Int64] = [Int64(shape.dilation - 1), Int64(shape.dilation - 1)]
        let padL: [Int64] = [Int64(shape.padTop), Int64(shape.padLeft)]
        let padR: [Int64] = [Int64(shape.padBottom), Int64(shape.padRight)]
        let described = shape.bias
            ? dnnl_dilated_convolution_forward_desc_init(&op, dnnl_forward_inference, dnnl_convolution_direct, &src,
                                                         &weights, &bias, &dst, strides, dilates, padL, padR)
            : dnnl_dilated_convolution_forward_desc_init(&op, dnnl_forward_inference, dnnl_convolution_direct, &src,
                                                         &weights, nil, &dst, strides, dilates, padL, padR)
        try Self.check(described, "describe a \(shape.kh)x\(shape.kw) convolution")
        var attr: dnnl_primitive_attr_t?
        try Self.check(dnnl_primitive_attr_create(&attr), "create convolution attributes")
        defer { dnnl_primitive_attr_destroy(attr) }
        try Self.check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set the scratchpad")
        var pd: dnnl_primitive_desc_t?
        try withUnsafePointer(to: &op) { p throws(BFloat16GEMMError) in
            try Self.check(dnnl_primitive_desc_create(&pd, UnsafeRawPointer(p).assumingMemoryBound(to: dnnl_op_desc_t.self),
                                                      attr, engine, nil),
                           "plan a \(shape.c)->\(shape.o) \(shape.kh)x\(shape.kw) convolution")
        }
        defer { dnnl_primitive_desc_destroy(pd) }
        var info: UnsafePointer<CChar>?
        _ = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info)
        let weightsDesc = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0)!.pointee
        let scratchBytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0))
        var primitive: dnnl_primitive_t?
        try Self.check(dnnl_primitive_create(&primitive, pd), "build a convolution")
        let plan = BFloat16ConvolutionPlan(primitive: primitive!, weightsDesc: weightsDesc, scratchBytes: scratchBytes,
                                           shape: shape, implementation: info.map { String(cString: $0) } ?? "ref")
        return convolutionPlans.withLock { cache in
            if let existing = cache[shape] {
                dnnl_primitive_destroy(plan.primitive)
                return existing
            }
            cache[shape] = plan
            return plan
        }
    }

    /// `plain` ([O, C, kh, kw] bfloat16) copied into the layout `plan` reads.
    func reorderedWeights(_ plain: UnsafePointer<UInt16>, for plan: BFloat16ConvolutionPlan) throws(BFloat16GEMMError)
        -> AlignedBFloat16 {
        let s = plan.shape
        var from = dnnl_memory_desc_t()
        try Self.check(dnnl_memory_desc_init_by_tag(&from, 4, [Int64(s.o), Int64(s.c), Int64(s.kh), Int64(s.kw)],
                                                    dnnl_bf16, dnnl_oihw), "describe plain weights")
        var to = plan.weightsDesc
        let out = AlignedBFloat16(count: (dnnl_memory_desc_get_size(&to) + 1) / 2)
        var pd: dnnl_primitive_desc_t?
        try Self.check(dnnl_reorder_primitive_desc_create(&pd, &from, engine, &to, engine, nil), "plan a weight reorder")
        defer { dnnl_primitive_desc_destroy(pd) }
        var reorder: dnnl_primitive_t?
        try Self.check(dnnl_primitive_create(&reorder, pd), "build a weight reorder")
        defer { dnnl_primitive_destroy(reorder) }
        var stream: dnnl_stream_t?
        try Self.check(dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)), "create a stream")
        defer { dnnl_stream_destroy(stream) }
        var source: dnnl_memory_t?, target: dnnl_memory_t?
        try Self.check(dnnl_memory_create(&source, &from, engine, UnsafeMutableRawPointer(mutating: plain)), "wrap weights")
        defer { dnnl_memory_destroy(source) }
        try Self.check(dnnl_memory_create(&target, &to, engine, out.pointer), "wrap reordered weights")
        defer { dnnl_memory_destroy(target) }
        let args = [dnnl_exec_arg_t(arg: hidiff_dnnl_arg_from, memory: source),
                    dnnl_exec_arg_t(arg: hidiff_dnnl_arg_to, memory: target)]
        try Self.check(dnnl_primitive_execute(reorder, stream, 2, args), "reorder weights")
        try Self.check(dnnl_stream_wait(stream), "finish a weight reorder")
        return out
    }

    /// Runs `plan` on the calling thread: src NHWC bfloat16, weights in the plan's layout, dst NHWC float32.
    func runConvolution(_ plan: BFloat16ConvolutionPlan, src: UnsafePointer<UInt16>, weights: UnsafePointer<UInt16>,
                        bias: UnsafePointer<Float>?, dst: UnsafeMutablePointer<Float>) throws(BFloat16GEMMError) {
        var pd: const_dnnl_primitive_desc_t?
        try Self.check(dnnl_primitive_get_primitive_desc(plan.primitive, &pd), "query a convolution")
        var stream: dnnl_stream_t?
        try Self.check(dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)), "create a stream")
        defer { dnnl_stream_destroy(stream) }
        var memories: [dnnl_memory_t?] = []
        defer { for memory in memories { dnnl_memory_destroy(memory) } }
        func wrap(_ query: dnnl_query_t, _ handle: UnsafeRawPointer, index: Int32 = 0) throws(BFloat16GEMMError)
            -> dnnl_memory_t {
            var memory: dnnl_memory_t?
            try Self.check(dnnl_memory_create(&memory, dnnl_primitive_desc_query_md(pd, query, index), engine,
                                              UnsafeMutableRawPointer(mutating: handle)), "wrap a convolution operand")
            memories.append(memory)
            return memory!
        }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(plan.scratchBytes, 1), alignment: 64)
        defer { scratch.deallocate() }
        var args = [dnnl_exec_arg_t(arg: hidiff_dnnl_arg_src, memory: try wrap(dnnl_query_src_md, src)),
                    dnnl_exec_arg_t(arg: hidiff_dnnl_arg_weights, memory: try wrap(dnnl_query_weights_md, weights)),
                    dnnl_exec_arg_t(arg: hidiff_dnnl_arg_dst, memory: try wrap(dnnl_query_dst_md, dst))]
        if let bias {
            args.append(dnnl_exec_arg_t(arg: hidiff_dnnl_arg_bias, memory: try wrap(dnnl_query_weights_md, bias, index: 1)))
        }
        if plan.scratchBytes > 0 {
            args.append(dnnl_exec_arg_t(arg: hidiff_dnnl_arg_scratchpad, memory: try wrap(dnnl_query_scratchpad_md, scratch)))
        }
        try Self.check(dnnl_primitive_execute(plan.primitive, stream, Int32(args.count), args), "run a convolution")
        try Self.check(dnnl_stream_wait(stream), "finish a convolution")
    }
}
