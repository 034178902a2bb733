// swift-tools-version:6.0
import PackageDescription

let core = Target.Dependency.product(name: "CoreRuntime", package: "CoreRuntime")

/// A method plugin: one shared library that depends only on CoreRuntime.
func plugin(_ name: String) -> Target {
    .target(name: name, dependencies: [core], path: "Plugins/\(name)",
            swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])])
}

/// A decoding-method plugin: its module (what its tests import) and an entry module with the two C
/// symbols the loader looks up; the dynamic library holds both.
func decodingPlugin(_ name: String) -> [Target] {
    let flags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
    return [.target(name: name, dependencies: [core], path: "Plugins/\(name)", exclude: ["Entry"], swiftSettings: flags),
            .target(name: "\(name)Entry", dependencies: [core, .target(name: name)], path: "Plugins/\(name)/Entry", swiftSettings: flags),
            .testTarget(name: "\(name)Tests", dependencies: [core, .target(name: name), "DecodingGoldenSupport"],
                        path: "Tests/\(name)Tests", swiftSettings: flags)]
}

let decoders = ["VCD", "M3ID", "DoLa"]

let package = Package(
    name: "hallu",
    products: [
        .executable(name: "hallu", targets: ["hallu"]),
        .library(name: "SelectiveEOS", type: .dynamic, targets: ["SelectiveEOS"]),
        .library(name: "HADPO", type: .dynamic, targets: ["HADPO"]),
        .library(name: "HSADPO", type: .dynamic, targets: ["HSADPO"]),
        .library(name: "HACL", type: .dynamic, targets: ["HACL"]),
    ] + decoders.map { .library(name: $0, type: .dynamic, targets: [$0, "\($0)Entry"]) },
    dependencies: [.package(path: "Sources/CoreRuntime")],
    targets: [
        .executableTarget(name: "hallu", dependencies: [core], path: "Sources/hallu"),
        plugin("SelectiveEOS"),
        plugin("HADPO"),
        plugin("HSADPO"),
        plugin("HACL"),
        .testTarget(name: "HalluTests", dependencies: [core], path: "Tests/HalluTests",
                    exclude: [], swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])]),
        .target(name: "DecodingGoldenSupport", dependencies: [core], path: "Tests/DecodingGoldenSupport"),
    ] + decoders.flatMap(decodingPlugin),
    swiftLanguageModes: [.v5]
)
