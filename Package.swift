// swift-tools-version:6.0
import PackageDescription

let core = Target.Dependency.product(name: "CoreRuntime", package: "CoreRuntime")
let cpu = SwiftSetting.unsafeFlags(["-target-cpu", "haswell"])

/// The plugins: each is one shared library (product) made of its module, which depends only on
/// CoreRuntime, and a one-file entry module that exports the two C functions the loader looks for.
/// Tests link the module alone: every plugin exports the same C symbols, so two entry modules
/// cannot share the one test executable SwiftPM builds.
let plugins = ["SelectiveEOS", "HADPO", "HSADPO", "HACL", "VCD", "M3ID", "DoLa", "OPERA"]

func pluginTargets(_ name: String) -> [Target] {
    [.target(name: name, dependencies: [core], path: "Plugins/\(name)", exclude: ["Entry"], swiftSettings: [cpu]),
     // The build-tool plugin writes the fingerprint of the CoreRuntime it compiles against into it.
     .target(name: "\(name)Entry", dependencies: [core, .target(name: name)], path: "Plugins/\(name)/Entry",
             swiftSettings: [cpu], plugins: [.plugin(name: "InterfaceFingerprint", package: "CoreRuntime")]),
     .testTarget(name: "\(name)Tests", dependencies: [core, .target(name: name), "HalluTestSupport"], path: "Tests/\(name)Tests",
                 swiftSettings: [cpu])]
}

let package = Package(
    name: "hallu",
    products: [.executable(name: "hallu", targets: ["hallu"])]
        + plugins.map { .library(name: $0, type: .dynamic, targets: [$0, "\($0)Entry"]) },
    dependencies: [.package(path: "Sources/CoreRuntime")],
    targets: [
        .executableTarget(name: "hallu", dependencies: [core], path: "Sources/hallu"),
        // Fixtures shared by every test target (public CoreRuntime API only).
        .target(name: "HalluTestSupport", dependencies: [core], path: "Tests/HalluTestSupport", swiftSettings: [cpu]),
        .testTarget(name: "HalluTests", dependencies: [core, "HalluTestSupport"], path: "Tests/HalluTests", swiftSettings: [cpu]),
    ] + plugins.flatMap(pluginTargets),
    swiftLanguageModes: [.v5]
)
