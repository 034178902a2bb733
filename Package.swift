// swift-tools-version:6.0
import PackageDescription

let core = Target.Dependency.product(name: "CoreRuntime", package: "CoreRuntime")

/// A method plugin: one shared library that depends only on CoreRuntime.
func plugin(_ name: String) -> Target {
    .target(name: name, dependencies: [core], path: "Plugins/\(name)",
            swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])])
}

let package = Package(
    name: "hallu",
    products: [
        .executable(name: "hallu", targets: ["hallu"]),
        .library(name: "SelectiveEOS", type: .dynamic, targets: ["SelectiveEOS"]),
        .library(name: "HADPO", type: .dynamic, targets: ["HADPO"]),
        .library(name: "HSADPO", type: .dynamic, targets: ["HSADPO"]),
        .library(name: "HACL", type: .dynamic, targets: ["HACL"]),
    ],
    dependencies: [.package(path: "Sources/CoreRuntime")],
    targets: [
        .executableTarget(name: "hallu", dependencies: [core], path: "Sources/hallu"),
        plugin("SelectiveEOS"),
        plugin("HADPO"),
        plugin("HSADPO"),
        plugin("HACL"),
        .testTarget(name: "HalluTests", dependencies: [core], path: "Tests/HalluTests",
                    exclude: [], swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])]),
    ],
    swiftLanguageModes: [.v5]
)
