// swift-tools-version: 6.2
// A package that depends on Manako by path and classifies an image with it.
import PackageDescription

let package = Package(
    name: "ClassifyExample",
    dependencies: [.package(name: "Manako", path: "../..")],
    targets: [
        .executableTarget(name: "ClassifyExample", dependencies: [.product(name: "Manako", package: "Manako")]),
    ]
)
