// swift-tools-version:6.0
import PackageDescription

// Release builds on x86_64 target Haswell (AVX2 + FMA): without it SIMD8<Float> code lowers to
// scalar fmaf calls and the element-wise kernels run 2–25× slower.
#if arch(x86_64)
let vectorize: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release))]
#else
let vectorize: [SwiftSetting] = []
#endif

let package = Package(
    name: "EffiLoRA",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "effilora", targets: ["effilora"]),
        .library(name: "EffiCore", targets: ["EffiCore"]),
        .library(name: "EffiFormats", targets: ["EffiFormats"]),
        .library(name: "EffiTokenizer", targets: ["EffiTokenizer"]),
        .library(name: "EffiModel", targets: ["EffiModel"]),
        .library(name: "EffiAdapters", targets: ["EffiAdapters"]),
        .library(name: "EffiTrain", targets: ["EffiTrain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // Layer 1: OpenBLAS on Linux (Accelerate is used directly on macOS) for float32 products.
        .systemLibrary(
            name: "CBLAS",
            path: "Sources/CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // oneDNN for the bf16 products (Debian's libdnnl-dev; headers in /usr/include, no pkg-config file).
        .systemLibrary(
            name: "CDNNL",
            path: "Sources/CDNNL",
            providers: [.apt(["libdnnl-dev"])]
        ),
        // The project's own int8 dot-product kernels for decoding with a quantized base (AVX2 / AVX512-VNNI).
        .target(name: "CQuantDot", path: "Sources/CQuantDot", exclude: ["quant_dot_kernels.inc"]),
        .target(
            name: "EffiCore",
            dependencies: ["CQuantDot",
                           .target(name: "CBLAS", condition: .when(platforms: [.linux])),
                           .target(name: "CDNNL", condition: .when(platforms: [.linux]))],
            swiftSettings: vectorize
        ),
        // Layer 2: file formats (GGUF, and later safetensors and adapters).
        .target(name: "EffiFormats", dependencies: ["EffiCore", .product(name: "Yams", package: "Yams")], swiftSettings: vectorize),
        // Layer 3: byte-level BPE tokenizers and chat templates.
        .target(name: "EffiTokenizer",
                dependencies: ["EffiFormats", .product(name: "HeapModule", package: "swift-collections")],
                swiftSettings: vectorize),
        // Layer 4: the LLaMA-family decoder.
        .target(name: "EffiModel", dependencies: ["EffiCore", "EffiFormats", "EffiTokenizer"], swiftSettings: vectorize),
        // Layer 5: adapters (LoRA, EffiLoRA, multi-B, baselines), parameters, serialization.
        .target(name: "EffiAdapters", dependencies: ["EffiCore", "EffiFormats", "EffiModel"], swiftSettings: vectorize),
        // Layer 6: data, batching, optimiser, the training loop, checkpoints.
        .target(name: "EffiTrain", dependencies: ["EffiCore", "EffiFormats", "EffiTokenizer", "EffiModel", "EffiAdapters"],
                swiftSettings: vectorize),
        // Layer 7: the command-line tool.
        .executableTarget(
            name: "effilora",
            dependencies: [
                "EffiCore",
                "EffiFormats",
                "EffiTokenizer",
                "EffiModel",
                "EffiAdapters",
                "EffiTrain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: vectorize
        ),
        // The parsers of untrusted input as fuzz targets: seed corpus, replay with seeded mutations,
        // and libFuzzer when built with -sanitize=fuzzer -DFUZZING (scripts/fuzz.sh).
        .executableTarget(name: "effilora-fuzz",
                          dependencies: ["EffiCore", "EffiFormats", "EffiTokenizer", "EffiModel", "EffiAdapters", "EffiTrain", "EffiTestSupport"],
                          swiftSettings: vectorize),
        .testTarget(name: "EffiCoreTests", dependencies: ["EffiCore"], swiftSettings: vectorize),
        // Helpers shared by the test targets and effilora-fuzz (e.g. GGUFBuilder); not a product.
        .target(name: "EffiTestSupport", dependencies: ["EffiFormats"], path: "Tests/EffiTestSupport"),
        .testTarget(name: "EffiFormatsTests", dependencies: ["EffiFormats", "EffiTestSupport"], resources: [.copy("Fixtures")],
                    swiftSettings: vectorize),
        .testTarget(name: "EffiTokenizerTests", dependencies: ["EffiTokenizer", "EffiFormats"], resources: [.copy("Fixtures")],
                    swiftSettings: vectorize),
        .testTarget(name: "EffiAdaptersTests", dependencies: ["EffiAdapters", "EffiModel", "EffiFormats", "EffiTestSupport"],
                    resources: [.copy("Fixtures")], swiftSettings: vectorize),
        .testTarget(name: "EffiTrainTests", dependencies: ["EffiTrain", "EffiAdapters", "EffiModel", "EffiTokenizer", "EffiFormats", "EffiTestSupport"],
                    swiftSettings: vectorize),
        .testTarget(name: "EffiModelTests", dependencies: ["EffiModel", "EffiFormats", "EffiTestSupport"], resources: [.copy("Fixtures")],
                    swiftSettings: vectorize),
    ]
)
