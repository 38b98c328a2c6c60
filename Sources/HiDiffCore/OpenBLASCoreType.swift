import Foundation

/// Which OpenBLAS kernels fit the CPU, and whether the library picked older ones.
///
/// A `DYNAMIC_ARCH` OpenBLAS chooses its kernels from the CPU model when it loads. A release that does not
/// know a newer model can fall back to far older kernels: Debian's 0.3.21 on an Emerald Rapids Xeon
/// (family 6, model 207) runs Prescott (SSE3) kernels, about 6x slower at SGEMM than the AVX-512 ones.
/// `OPENBLAS_CORETYPE` overrides the choice, but only before the library initialises (in its ELF
/// constructor, before `main`); `reexecIfKernelsFellBack()` therefore sets it and re-executes the process.
public enum OpenBLASCoreType {
    /// The kernel generations this code can tell apart, oldest first: the instruction sets they need.
    public enum Level: Int, Comparable, Sendable, CaseIterable {
        /// SSE-era kernels (Prescott, Core2, Nehalem, Barcelona, ...).
        case sse = 0
        /// AVX (Sandybridge, Bulldozer family).
        case avx
        /// AVX2 + FMA (Haswell, Zen).
        case avx2
        /// AVX-512 F/CD/BW/DQ/VL (SkylakeX).
        case avx512
        /// AVX-512 with BF16 (Cooperlake).
        case avx512bf16

        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    /// The level of the kernels OpenBLAS reports as `corename` (case-insensitive, as OpenBLAS compares
    /// them); nil for a name this code does not know (another architecture, a newer release's names).
    public static func level(ofCore corename: String) -> Level? {
        switch corename.lowercased() {
        case "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn", "dunnington",
             "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "bobcat":
            return .sse
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator":
            return .avx
        case "haswell", "zen":
            return .avx2
        case "skylakex":
            return .avx512
        case "cooperlake", "sapphirerapids":
            return .avx512bf16
        default:
            return nil
        }
    }

    /// The newest kernel level the CPU supports, from its `/proc/cpuinfo` flags (which Linux clears for
    /// instruction sets the kernel does not enable, e.g. AVX-512 without its register state).
    public static func level(ofCPUFlags flags: Set<String>) -> Level {
        let avx512 = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
        if avx512 && flags.contains("avx512_bf16") { return .avx512bf16 }
        if avx512 { return .avx512 }
        if flags.contains("avx2") && flags.contains("fma") { return .avx2 }
        if flags.contains("avx") { return .avx }
        return .sse
    }

    /// The `OPENBLAS_CORETYPE` to force, or nil to leave OpenBLAS's choice alone.
    ///
    /// Non-nil only when the library is a `DYNAMIC_ARCH` build (`config`, from `openblas_get_config()`, says
    /// so: a fixed-target build ignores the variable), its `corename` is a known x86 core, and that core is
    /// older than what the CPU (`vendor`, `flags` from `/proc/cpuinfo`) supports. The names are the ones
    /// OpenBLAS 0.3.21 accepts: `Cooperlake` (AVX-512 BF16; SGEMM runs the SkylakeX kernels), `SkylakeX`
    /// (AVX-512, also for AMD Zen 4), `Haswell` (AVX2 Intel) or `Zen` (AVX2 AMD/Hygon), `Sandybridge` (AVX).
    /// (0.3.21 matches `Cooperlake` only through its feature-based fallback for unknown names, which lands on
    /// Cooperlake exactly when the CPU has AVX-512 BF16; AMD gets `SkylakeX` to stay off that path.)
    public static func recommended(vendor: String, flags: Set<String>, corename: String, config: String) -> String? {
        guard config.contains("DYNAMIC_ARCH"), let current = level(ofCore: corename) else { return nil }
        let cpu = level(ofCPUFlags: flags)
        guard current < cpu else { return nil }
        let amd = vendor == "AuthenticAMD" || vendor == "HygonGenuine"
        switch cpu {
        case .avx512bf16: return amd ? "SkylakeX" : "Cooperlake"
        case .avx512: return "SkylakeX"
        case .avx2: return amd ? "Zen" : "Haswell"
        case .avx: return "Sandybridge"
        case .sse: return nil
        }
    }

    /// The `vendor_id` and the `flags` of the first processor in `/proc/cpuinfo` text.
    public static func parseCPUInfo(_ text: String) -> (vendor: String, flags: Set<String>) {
        var vendor = "", flags: Set<String>?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if key == "vendor_id" && vendor.isEmpty { vendor = value }
            if key == "flags" && flags == nil { flags = Set(value.split(separator: " ").map(String.init)) }
            if !vendor.isEmpty && flags != nil { break }
        }
        return (vendor, flags ?? [])
    }
}
