// swift-tools-version: 6.2
// libFuzzer targets for Manako's parsers. Build and run them with scripts/fuzz (it passes
// -sanitize=fuzzer,address and -parse-as-library: each target defines LLVMFuzzerTestOneInput,
// and FuzzEntry starts libFuzzer's driver from the entry point SwiftPM expects).
import PackageDescription

let targets = ["FuzzONNX", "FuzzPNG", "FuzzJPEG", "FuzzNPY", "FuzzMetadata"]

let package = Package(
    name: "ManakoFuzz",
    dependencies: [.package(name: "Manako", path: "..")],
    targets: [.target(name: "FuzzEntry")] + targets.map {
        .executableTarget(name: $0, dependencies: ["FuzzEntry", .product(name: "Manako", package: "Manako")])
    }
)
