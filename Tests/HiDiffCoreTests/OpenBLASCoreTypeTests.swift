import HiDiffCore
import XCTest

/// The core type decision: which `OPENBLAS_CORETYPE` fits a CPU whose kernels OpenBLAS chose too old.
final class OpenBLASCoreTypeTests: XCTestCase {
    let dynamic = "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64"
    let avx2: Set<String> = ["sse4_2", "avx", "avx2", "fma"]
    let avx512: Set<String> = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]

    /// This machine's case: an Emerald Rapids Xeon (AVX-512 BF16, AMX) that 0.3.21 takes for a Prescott.
    func testEmeraldRapidsOnPrescottGetsCooperlake() {
        let flags = avx512.union(["avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16"])
        XCTAssertEqual(OpenBLASCoreType.recommended(vendor: "GenuineIntel", flags: flags, corename: "Prescott",
                                                    config: dynamic), "Cooperlake")
        for old in ["Core2", "Nehalem", "Sandybridge", "Haswell", "prescott"] {
            XCTAssertEqual(OpenBLASCoreType.recommended(vendor: "GenuineIntel", flags: flags, corename: old,
                                                        config: dynamic), "Cooperlake", old)
        }
    }

    func testRecommendationFollowsTheCPUFeatures() {
        func rec(_ vendor: String, _ flags: Set<String>, _ core: String = "Prescott") -> String? {
            OpenBLASCoreType.recommended(vendor: vendor, flags: flags, corename: core, config: dynamic)
        }
        XCTAssertEqual(rec("GenuineIntel", avx512), "SkylakeX")
        XCTAssertEqual(rec("GenuineIntel", avx2), "Haswell")
        XCTAssertEqual(rec("GenuineIntel", ["avx", "sse4_2"]), "Sandybridge")
        XCTAssertNil(rec("GenuineIntel", ["sse4_2"]), "nothing newer than SSE kernels to offer")
        XCTAssertEqual(rec("AuthenticAMD", avx2, "Barcelona"), "Zen")
        XCTAssertEqual(rec("HygonGenuine", avx2), "Zen")
        XCTAssertEqual(rec("AuthenticAMD", avx512.union(["avx512_bf16"]), "Barcelona"), "SkylakeX", "Zen 4")
        // AVX-512 needs all five base subsets; AVX2 needs FMA.
        XCTAssertEqual(rec("GenuineIntel", avx2.union(["avx512f"])), "Haswell")
        XCTAssertEqual(rec("GenuineIntel", ["avx", "avx2"]), "Sandybridge")
    }

    func testNoCorrectionWhenTheKernelsAlreadyFit() {
        let bf16 = avx512.union(["avx512_bf16"])
        for (core, flags) in [("SkylakeX", avx512), ("Cooperlake", bf16), ("Haswell", avx2), ("Zen", avx2),
                              ("SkylakeX", avx2)] {
            XCTAssertNil(OpenBLASCoreType.recommended(vendor: "GenuineIntel", flags: flags, corename: core,
                                                      config: dynamic), "\(core) on \(flags.sorted())")
        }
        XCTAssertEqual(OpenBLASCoreType.recommended(vendor: "GenuineIntel", flags: bf16, corename: "SkylakeX",
                                                    config: dynamic), "Cooperlake")
    }

    func testNoCorrectionForFixedBuildsOrUnknownCores() {
        let fixed = "OpenBLAS 0.3.21 NO_LAPACKE NO_AFFINITY Prescott MAX_THREADS=64"
        XCTAssertNil(OpenBLASCoreType.recommended(vendor: "GenuineIntel", flags: avx512, corename: "Prescott", config: fixed),
                     "a fixed-target build ignores OPENBLAS_CORETYPE")
        for core in ["neoversen1", "armv8", "POWER9", "Unknown", ""] {
            XCTAssertNil(OpenBLASCoreType.recommended(vendor: "GenuineIntel", flags: avx512, corename: core, config: dynamic), core)
        }
    }

    func testParsesCPUInfo() {
        let text = """
        processor\t: 0
        vendor_id\t: GenuineIntel
        cpu family\t: 6
        model\t\t: 207
        flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512_bf16
        bugs\t\t: spectre_v1

        processor\t: 1
        vendor_id\t: GenuineIntel
        flags\t\t: fpu sse
        """
        let info = OpenBLASCoreType.parseCPUInfo(text)
        XCTAssertEqual(info.vendor, "GenuineIntel")
        XCTAssertEqual(info.flags, ["fpu", "sse", "sse2", "avx", "avx2", "fma", "avx512f", "avx512_bf16"])
        XCTAssertEqual(OpenBLASCoreType.parseCPUInfo("").flags, [])
    }

    func testIdleThreadsAreToldToSleepUnlessTheUserChoseATimeout() {
        let fresh = OpenBLASCoreType.neededEnvironment(environment: [:])
        XCTAssertEqual(fresh[OpenBLASCoreType.threadTimeoutVariable], "4")
        let chosen = OpenBLASCoreType.neededEnvironment(environment: ["OPENBLAS_THREAD_TIMEOUT": "20",
                                                                      OpenBLASCoreType.markerVariable: "off"])
        XCTAssertEqual(chosen, [:], "the user's settings stay")
        // A re-executed process (marker and timeout set) changes nothing more: no second exec.
        XCTAssertEqual(OpenBLASCoreType.neededEnvironment(environment: [OpenBLASCoreType.markerVariable: "Prescott>Cooperlake",
                                                                        "OPENBLAS_THREAD_TIMEOUT": "4"]), [:])
    }

    /// A machine image that sets `OPENBLAS_CORETYPE=Haswell` for every process, on an AMD Zen 5 (AVX-512 BF16):
    /// the inherited core is corrected like one OpenBLAS fell back to, and the marker says it was inherited.
    func testAnInheritedOldCoreTypeIsCorrectedUnlessTheMarkerIsSet() {
        let zen5 = avx512.union(["avx512_bf16", "avx512_vp2intersect"])
        let fix = OpenBLASCoreType.correction(environment: ["OPENBLAS_CORETYPE": "Haswell"], vendor: "AuthenticAMD",
                                              flags: zen5, corename: "Haswell", config: dynamic)
        XCTAssertEqual(fix, OpenBLASCoreType.Correction(from: "Haswell", to: "SkylakeX", inherited: true))
        XCTAssertEqual(fix?.description, "OPENBLAS_CORETYPE=Haswell>SkylakeX")
        XCTAssertEqual(fix?.summary, "corrected from Haswell, set by OPENBLAS_CORETYPE")
        // What OpenBLAS fell back to by itself is not marked inherited.
        let fellBack = OpenBLASCoreType.correction(environment: [:], vendor: "GenuineIntel", flags: zen5,
                                                   corename: "Prescott", config: dynamic)
        XCTAssertEqual(fellBack, OpenBLASCoreType.Correction(from: "Prescott", to: "Cooperlake"))
        XCTAssertEqual(fellBack?.summary, "corrected from Prescott")
        // The opt-out, an inherited core that already fits, and one newer than the CPU's are left alone.
        XCTAssertNil(OpenBLASCoreType.correction(environment: ["OPENBLAS_CORETYPE": "Haswell",
                                                               OpenBLASCoreType.markerVariable: "off"],
                                                 vendor: "AuthenticAMD", flags: zen5, corename: "Haswell", config: dynamic))
        XCTAssertNil(OpenBLASCoreType.correction(environment: ["OPENBLAS_CORETYPE": "Cooperlake"], vendor: "AuthenticAMD",
                                                 flags: zen5, corename: "Cooperlake", config: dynamic))
        XCTAssertNil(OpenBLASCoreType.correction(environment: ["OPENBLAS_CORETYPE": "SkylakeX"], vendor: "GenuineIntel",
                                                 flags: avx2, corename: "SkylakeX", config: dynamic))
    }

    func testMarkerRoundTrips() {
        for fix in [OpenBLASCoreType.Correction(from: "Prescott", to: "SkylakeX"),
                    OpenBLASCoreType.Correction(from: "Haswell", to: "SkylakeX", inherited: true)] {
            XCTAssertEqual(OpenBLASCoreType.Correction(marker: fix.description), fix)
        }
        XCTAssertEqual(OpenBLASCoreType.Correction(from: "Prescott", to: "SkylakeX").description, "Prescott>SkylakeX")
        for bad in ["off", "", ">", "Prescott>", "OPENBLAS_CORETYPE=", "OPENBLAS_CORETYPE=>SkylakeX"] {
            XCTAssertNil(OpenBLASCoreType.Correction(marker: bad), bad)
        }
    }

    func testNothingToDoWhenTheMarkerIsSet() {
        XCTAssertNil(OpenBLASCoreType.neededCorrection(environment: [OpenBLASCoreType.markerVariable: "off"]))
        XCTAssertNil(OpenBLASCoreType.neededCorrection(environment: ["OPENBLAS_CORETYPE": "Prescott",
                                                                     OpenBLASCoreType.markerVariable: "off"]))
        XCTAssertFalse(OpenBLASCoreType.config.isEmpty)
        XCTAssertFalse(OpenBLASCoreType.corename.isEmpty)
    }
}
