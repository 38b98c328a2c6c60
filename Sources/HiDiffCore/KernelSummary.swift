import CDNNL
import Foundation
import HiDiffKernels

/// One line naming the kernels this process runs, for `hidiff bench`, verbose output and the worker's
/// registration: OpenBLAS's core type (and the one it was corrected from) for float32, oneDNN's instruction
/// set for bfloat16.
public enum KernelSummary {
    /// e.g. "OpenBLAS Cooperlake (corrected from Prescott), thread timeout 2^4 cycles; oneDNN 2.6.3
    /// avx512_core_amx (bf16 native, attention on AMX tiles); vector unit AVX-512".
    public static var text: String {
        let correction = OpenBLASCoreType.appliedCorrection.map { " (\($0.summary))" } ?? ""
        let timeout = ProcessInfo.processInfo.environment[OpenBLASCoreType.threadTimeoutVariable]
            .map { ", thread timeout 2^\($0) cycles" } ?? ""
        return "OpenBLAS \(OpenBLASCoreType.corename)\(correction)\(timeout); \(bfloat16); vector unit \(VectorUnit.detected)"
    }

    /// How bfloat16 products run here.
    public static var bfloat16: String {
        switch BFloat16GEMM.shared {
        case let .failure(error):
            return "bf16 unavailable (\(error))"
        case let .success(engine):
            let v = dnnl_version()!.pointee
            let path = !engine.usesOneDNN ? "bf16 by conversion to float32"
                : BFloat16GEMM.isNative ? "bf16 native" : "bf16 emulated"
            // bfloat16 attention's products run on AMX tiles of their own where the CPU has them.
            let tiles = Tensor.attentionUsesTiles ? ", attention on AMX tiles" : ""
            return "oneDNN \(v.major).\(v.minor).\(v.patch) \(BFloat16GEMM.instructionSet) (\(path)\(tiles))"
        }
    }
}
