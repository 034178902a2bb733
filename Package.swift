// swift-tools-version:6.0
import Foundation
import PackageDescription

let core = Target.Dependency.product(name: "CoreRuntime", package: "CoreRuntime")

/// The CPU compiled code targets: `haswell` (AVX2, FMA) on x86-64; `HALLU_TARGET_CPU` overrides it
/// (e.g. `x86-64` for any x86-64 CPU); other architectures build the portable code. The same rule is
/// in Sources/CoreRuntime/Package.swift. `hallu` checks the CPU at start-up when the build needs AVX2.
let targetCPU: String? = {
    if let v = ProcessInfo.processInfo.environment["HALLU_TARGET_CPU"], !v.isEmpty { return v }
    #if arch(x86_64)
    return "haswell"
    #else
    return nil
    #endif
}()
let cpu: [SwiftSetting] = targetCPU.map { [.unsafeFlags(["-target-cpu", $0])] } ?? []
/// Targets below AVX2 that need no start-up check.
let baselineCPUs: Set<String> = ["x86-64", "x86-64-v2", "generic", "core2", "nehalem", "westmere", "sandybridge", "ivybridge"]
let requiresAVX2: [SwiftSetting] = targetCPU.map { baselineCPUs.contains($0) ? [] : [.define("HALLU_REQUIRES_AVX2_FMA")] } ?? []

/// The plugins: each is one shared library (product) made of its module, which depends only on
/// CoreRuntime, and a one-file entry module that exports the two C functions the loader looks for.
/// Tests link the module alone: every plugin exports the same C symbols, so two entry modules
/// cannot share the one test executable SwiftPM builds.
let plugins = ["SelectiveEOS", "HADPO", "HSADPO", "HACL", "VCD", "M3ID", "DoLa", "OPERA"]

func pluginTargets(_ name: String) -> [Target] {
    [.target(name: name, dependencies: [core], path: "Plugins/\(name)", exclude: ["Entry"], swiftSettings: cpu),
     // The build-tool plugin writes the fingerprint of the CoreRuntime it compiles against into it.
     .target(name: "\(name)Entry", dependencies: [core, .target(name: name)], path: "Plugins/\(name)/Entry",
             swiftSettings: cpu, plugins: [.plugin(name: "InterfaceFingerprint", package: "CoreRuntime")]),
     .testTarget(name: "\(name)Tests", dependencies: [core, .target(name: name), "HalluTestSupport"], path: "Tests/\(name)Tests",
                 swiftSettings: cpu)]
}

let package = Package(
    name: "hallu",
    products: [.executable(name: "hallu", targets: ["hallu"]),
               .executable(name: "hallu-fuzz", targets: ["hallu-fuzz"])]
        + plugins.map { .library(name: $0, type: .dynamic, targets: [$0, "\($0)Entry"]) },
    dependencies: [.package(path: "Sources/CoreRuntime")],
    targets: [
        // Built for the baseline CPU: it checks the CPU before any AVX2 code runs.
        .executableTarget(name: "hallu", dependencies: [core], path: "Sources/hallu", swiftSettings: requiresAVX2),
        // Structured fuzzing of every input hallu reads (docs/RELIABILITY.md).
        .executableTarget(name: "hallu-fuzz", dependencies: [core], path: "Sources/hallu-fuzz"),
        // Fixtures shared by every test target (public CoreRuntime API only).
        .target(name: "HalluTestSupport", dependencies: [core], path: "Tests/HalluTestSupport", swiftSettings: cpu),
        .testTarget(name: "HalluTests", dependencies: [core, "HalluTestSupport"], path: "Tests/HalluTests", swiftSettings: cpu),
    ] + plugins.flatMap(pluginTargets),
    swiftLanguageModes: [.v5]
)
