// swift-tools-version: 6.2
// Manako: an ONNX image-classification runtime for the CPU.
//
// CPU flags (AVX2 + FMA) are deliberately not set here: a versioned dependency
// cannot carry unsafe flags. Pass them on the command line (see README) or use
// scripts/build, CMake or the Python package, which do.
import PackageDescription

let package = Package(
    name: "Manako",
    products: [
        .library(name: "Manako", targets: ["Manako"]),
        // The C ABI. scripts/build links it with the Swift runtime static and
        // names it libmanako.so (SONAME libmanako.so.0).
        .library(name: "ManakoC", type: .dynamic, targets: ["ManakoC"]),
        .executable(name: "manako", targets: ["ManakoCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        .systemLibrary(
            name: "CJPEG", pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg-dev"])]),
        // libjpeg and libpng report errors by longjmp; this C layer turns them into return codes.
        .target(name: "CManakoCodecs", dependencies: ["CJPEG", "CPNG"]),
        .target(name: "CManakoSIMD"),
        .target(name: "ManakoCore", dependencies: ["CBLAS", "CManakoSIMD"]),
        .target(name: "ManakoONNX", dependencies: ["ManakoCore"]),
        .target(name: "ManakoImage", dependencies: ["ManakoCore", "CManakoCodecs"]),
        .target(name: "Manako", dependencies: ["ManakoCore", "ManakoONNX", "ManakoImage"]),
        .target(name: "ManakoCTypes"),
        .target(name: "ManakoC", dependencies: ["Manako", "ManakoCTypes"]),
        .executableTarget(
            name: "ManakoCLI",
            dependencies: ["Manako", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "ManakoCoreTests", dependencies: ["ManakoCore"]),
        .testTarget(name: "ManakoONNXTests", dependencies: ["Manako"], exclude: ["Fixtures", "Models", "Architectures", "node-tests.txt"]),
        .testTarget(name: "ManakoImageTests", dependencies: ["ManakoImage", "ManakoCore"], exclude: ["Fixtures", "Preprocessing"]),
        .testTarget(name: "ManakoTests", dependencies: ["Manako"], exclude: ["Fixtures"]),
    ]
)
