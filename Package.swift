// swift-tools-version:6.0
import PackageDescription

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
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        // Tensors, kernels, the sharding seam (Collective) and torch-compatible noise.
        .target(name: "HiDiffCore", dependencies: ["COpenBLAS"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
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
        .executableTarget(name: "hidiff", dependencies: [
            "HiDiffPipeline",
            "HiDiffEval",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Fixture lookup and parity measures shared by the test targets.
        .target(name: "HiDiffTestSupport", dependencies: ["HiDiffCore"]),
        .testTarget(name: "HiDiffCoreTests", dependencies: ["HiDiffCore", "HiDiffTestSupport"]),
        .testTarget(name: "HiDiffModelsTests", dependencies: ["HiDiffModels", "HiDiffTestSupport"]),
        .testTarget(name: "HiDiffSchedulersTests", dependencies: ["HiDiffSchedulers", "HiDiffTestSupport"]),
        .testTarget(name: "HiDiffImageTests", dependencies: ["HiDiffImage", "HiDiffCore", "HiDiffTestSupport"]),
        .testTarget(name: "HiDiffPipelineTests", dependencies: ["HiDiffPipeline", "HiDiffTestSupport"]),
        .testTarget(name: "HiDiffEvalTests", dependencies: ["HiDiffEval", "HiDiffTestSupport"]),
    ],
    // Kernels hand raw pointers to DispatchQueue.concurrentPerform; Swift 5 mode keeps that legal while the
    // public types still declare Sendable.
    swiftLanguageModes: [.v5]
)
