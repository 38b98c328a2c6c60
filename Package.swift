// swift-tools-version:6.0
import PackageDescription

/// New targets (the cluster) are Swift 6; the engine keeps Swift 5 mode (its kernels hand raw pointers to
/// DispatchQueue.concurrentPerform while the public types still declare Sendable).
let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "hidiff",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "hidiff", targets: ["hidiff"]),
        .library(name: "HiDiffCore", targets: ["HiDiffCore"]),
        .library(name: "HiDiffModels", targets: ["HiDiffModels"]),
        .library(name: "HiDiffPipeline", targets: ["HiDiffPipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        // oneDNN: bfloat16 matrix products (AMX / AVX512-BF16). Debian ships no pkg-config file for it.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // The hot pointer loops (Winograd transforms, norms, transposes, im2col, exp/GELU), the only code built
        // without runtime checks: measured 1.1-1.9x faster so (`hidiff bench ops`); they parse nothing and their
        // callers check every size.
        .target(name: "HiDiffKernels", dependencies: ["CVectorKernels"], swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
        // Softmax's row loops and bfloat16 rounding built for AVX-512 and AVX2 in one binary (per-function
        // target attributes, no flags) and chosen at run time; bit for bit the portable loops' results.
        .target(name: "CVectorKernels"),
        // Tensors and their ops, the sharding seam (Collective) and torch-compatible noise (checked build).
        .target(name: "HiDiffCore", dependencies: ["COpenBLAS", "CDNNL", "CVectorKernels", "HiDiffKernels"]),
        // Weights (safetensors, diffusers folders), tokenizer, CLIP, U-Net, VAE.
        .target(name: "HiDiffModels", dependencies: ["HiDiffCore"],
                resources: [.copy("Resources/clip")]),
        // Noise schedulers as diffusers computes them.
        .target(name: "HiDiffSchedulers", dependencies: ["HiDiffCore"]),
        // PNG in/out with generation metadata.
        .target(name: "HiDiffImage", dependencies: ["CPNG", "HiDiffCore"]),
        // txt2img / img2img and HiDiffusion.
        .target(name: "HiDiffPipeline",
                dependencies: ["HiDiffCore", "HiDiffModels", "HiDiffSchedulers", "HiDiffImage"]),
        // The duplication benchmark: object counting, generation sweeps, contact sheets.
        .target(name: "HiDiffEval", dependencies: ["HiDiffPipeline"]),

        // PostgreSQL through libpq: parameterised queries, typed rows, transactions, LISTEN/NOTIFY, reconnects.
        .target(name: "HiDiffPostgres", dependencies: [
            "CLibPQ",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        // The job store: migrations, claims, leases and fencing, checkpoints, results, workers, admin queries.
        .target(name: "HiDiffStore", dependencies: [
            "HiDiffPostgres",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        // The wire protocol: frames, messages, tensors, the token handshake, link state machines.
        .target(name: "HiDiffProtocol", dependencies: [
            "HiDiffCore",
            .product(name: "NIOCore", package: "swift-nio"),
        ], swiftSettings: swift6),
        // TLS for every link (worker to coordinator, worker to worker, HTTP): one configuration from
        // --tls-cert/--tls-key/--tls-ca, checked at start, turned into SwiftNIO SSL contexts.
        .target(name: "HiDiffTLS", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        // Log lines for the long-running commands: one line per event (text or JSON), metadata as fields.
        .target(name: "HiDiffLogging", dependencies: [
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        // Render groups: the TCP transport of the engine's Collective (a ring of authenticated peer links).
        .target(name: "HiDiffGroup", dependencies: [
            "HiDiffCore", "HiDiffProtocol", "HiDiffTLS",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        // The coordinator: claims jobs, leases them to workers over TCP, records progress and results.
        .target(name: "HiDiffCoordinator", dependencies: [
            "HiDiffStore", "HiDiffProtocol", "HiDiffPipeline", "HiDiffModels", "HiDiffImage", "HiDiffCore", "HiDiffTLS",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        // The worker: registers with coordinators, runs jobs on compute threads, checkpoints, drains.
        .target(name: "HiDiffWorker", dependencies: [
            "HiDiffProtocol", "HiDiffPipeline", "HiDiffImage", "HiDiffModels", "HiDiffCore", "HiDiffGroup", "HiDiffTLS",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),

        // What a submission must satisfy before anything is inserted (the CLI's and the HTTP API's one rule set),
        // and the jobs it becomes.
        .target(name: "HiDiffSubmission", dependencies: [
            "HiDiffPipeline", "HiDiffImage", "HiDiffStore",
        ], swiftSettings: swift6),
        // The HTTP API inside the coordinator (Hummingbird): JSON jobs API, AUTOMATIC1111-compatible
        // endpoints, Prometheus metrics.
        .target(name: "HiDiffHTTP", dependencies: [
            "HiDiffSubmission", "HiDiffStore", "HiDiffPostgres", "HiDiffPipeline", "HiDiffImage", "HiDiffSchedulers",
            "HiDiffProtocol", "HiDiffTLS",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),

        .executableTarget(name: "hidiff", dependencies: [
            "HiDiffPipeline",
            "HiDiffEval",
            "HiDiffStore",
            "HiDiffCoordinator",
            "HiDiffWorker",
            "HiDiffGroup",
            "HiDiffSubmission",
            "HiDiffHTTP",
            "HiDiffTLS",
            "HiDiffLogging",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Fixture lookup, parity measures and the throwaway PostgreSQL shared by the test targets.
        .target(name: "HiDiffTestSupport", dependencies: ["HiDiffCore"]),
        .testTarget(name: "HiDiffKernelsTests", dependencies: ["HiDiffKernels"]),
        .testTarget(name: "HiDiffCoreTests", dependencies: ["HiDiffCore", "HiDiffTestSupport"]),
        .testTarget(name: "HiDiffModelsTests", dependencies: ["HiDiffModels", "HiDiffTestSupport"]),
        .testTarget(name: "HiDiffSchedulersTests", dependencies: ["HiDiffSchedulers", "HiDiffTestSupport"]),
        .testTarget(name: "HiDiffImageTests", dependencies: ["HiDiffImage", "HiDiffCore", "HiDiffTestSupport"]),
        .testTarget(name: "HiDiffPipelineTests", dependencies: ["HiDiffPipeline", "HiDiffTestSupport"]),
        .testTarget(name: "HiDiffEvalTests", dependencies: ["HiDiffEval", "HiDiffTestSupport"]),
        .testTarget(name: "HiDiffPostgresTests", dependencies: ["HiDiffPostgres", "HiDiffTestSupport"],
                    swiftSettings: swift6),
        .testTarget(name: "HiDiffStoreTests", dependencies: ["HiDiffStore", "HiDiffPostgres", "HiDiffTestSupport"],
                    swiftSettings: swift6),
        .testTarget(name: "HiDiffProtocolTests", dependencies: [
            "HiDiffProtocol", "HiDiffCore", .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ], swiftSettings: swift6),
        .testTarget(name: "HiDiffGroupTests", dependencies: [
            "HiDiffGroup", "HiDiffProtocol", "HiDiffCore", "HiDiffTestSupport", "HiDiffTLS",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        .testTarget(name: "HiDiffCoordinatorTests", dependencies: ["HiDiffCoordinator", "HiDiffProtocol", "HiDiffStore", "HiDiffModels", "HiDiffPipeline", "HiDiffCore"],
                    swiftSettings: swift6),
        .testTarget(name: "HiDiffWorkerTests", dependencies: [
            "HiDiffWorker", "HiDiffProtocol", "HiDiffPipeline", "HiDiffImage", "HiDiffTestSupport",
        ], swiftSettings: swift6),
        .testTarget(name: "HiDiffSubmissionTests", dependencies: [
            "HiDiffSubmission", "HiDiffPipeline", "HiDiffStore",
        ], swiftSettings: swift6),
        .testTarget(name: "HiDiffLoggingTests", dependencies: [
            "HiDiffLogging", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        .testTarget(name: "HiDiffTLSTests", dependencies: [
            "HiDiffTLS", "HiDiffTestSupport",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], swiftSettings: swift6),
        .testTarget(name: "HiDiffHTTPTests", dependencies: [
            "HiDiffHTTP", "HiDiffSubmission", "HiDiffStore", "HiDiffPostgres", "HiDiffPipeline", "HiDiffSchedulers",
            "HiDiffImage", "HiDiffTestSupport", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        // Real PostgreSQL, real coordinator and worker processes.
        .testTarget(name: "HiDiffClusterTests", dependencies: [
            "HiDiffCoordinator", "HiDiffWorker", "HiDiffStore", "HiDiffPostgres", "HiDiffProtocol",
            "HiDiffTestSupport", "HiDiffPipeline", "HiDiffImage", "HiDiffTLS", .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], swiftSettings: swift6),
    ],
    swiftLanguageModes: [.v5]
)
