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
let cpuFlags: [SwiftSetting] = targetCPU.map { [.unsafeFlags(["-target-cpu", $0])] } ?? []
/// Targets below AVX2 that need no start-up check.
let baselineCPUs: Set<String> = ["x86-64", "x86-64-v2", "generic", "core2", "nehalem", "westmere", "sandybridge", "ivybridge"]
let requiresAVX2: [SwiftSetting] = targetCPU.map { baselineCPUs.contains($0) ? [] : [.define("HALLU_REQUIRES_AVX2_FMA")] } ?? []

/// A method plugin: one shared library that depends only on CoreRuntime.
func plugin(_ name: String) -> Target {
    .target(name: name, dependencies: [core], path: "Plugins/\(name)", swiftSettings: cpuFlags)
}

let package = Package(
    name: "hallu",
    products: [
        .executable(name: "hallu", targets: ["hallu"]),
        .executable(name: "hallu-fuzz", targets: ["hallu-fuzz"]),
        .library(name: "SelectiveEOS", type: .dynamic, targets: ["SelectiveEOS"]),
        .library(name: "HADPO", type: .dynamic, targets: ["HADPO"]),
        .library(name: "HSADPO", type: .dynamic, targets: ["HSADPO"]),
        .library(name: "HACL", type: .dynamic, targets: ["HACL"]),
    ],
    dependencies: [.package(path: "Sources/CoreRuntime")],
    targets: [
        // Built for the baseline CPU: it checks the CPU before any AVX2 code runs.
        .executableTarget(name: "hallu", dependencies: [core], path: "Sources/hallu", swiftSettings: requiresAVX2),
        // Structured fuzzing of every input hallu reads (docs/RELIABILITY.md).
        .executableTarget(name: "hallu-fuzz", dependencies: [core], path: "Sources/hallu-fuzz"),
        plugin("SelectiveEOS"),
        plugin("HADPO"),
        plugin("HSADPO"),
        plugin("HACL"),
        .testTarget(name: "HalluTests", dependencies: [core], path: "Tests/HalluTests",
                    exclude: [], swiftSettings: cpuFlags),
    ],
    swiftLanguageModes: [.v5]
)
