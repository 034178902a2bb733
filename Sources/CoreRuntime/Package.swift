// swift-tools-version:6.1
import Foundation
import PackageDescription

/// The CPU compiled code targets: `haswell` (AVX2, FMA) on x86-64; `HALLU_TARGET_CPU` overrides it
/// (e.g. `x86-64` for any x86-64 CPU); other architectures build the portable code (SIMD types
/// are then lowered to what the target has). The same rule is in the root Package.swift.
let targetCPU: String? = {
    if let v = ProcessInfo.processInfo.environment["HALLU_TARGET_CPU"], !v.isEmpty { return v }
    #if arch(x86_64)
    return "haswell"
    #else
    return nil
    #endif
}()

// CoreRuntime is its own package so that it builds as ONE shared library that the `hallu`
// executable and every method plugin load once. Linked statically into each of them, every
// type would exist twice and `as? Method` on a plugin's object would silently fail.
//
// A build-tool plugin fingerprints the module's public interface while it builds
// (BuildTools/InterfaceFingerprint). Applied to a hallu plugin's entry module too, it compiles the
// fingerprint of the CoreRuntime that module is built against into it; the loader refuses a plugin
// whose fingerprint is not the host's.
let package = Package(
    name: "CoreRuntime",
    products: [
        .library(name: "CoreRuntime", type: .dynamic, targets: ["CoreRuntime"]),
        .plugin(name: "InterfaceFingerprint", targets: ["InterfaceFingerprintPlugin"]),
    ],
    targets: [
        .executableTarget(name: "interface-fingerprint", path: "BuildTools/InterfaceFingerprint"),
        .plugin(name: "InterfaceFingerprintPlugin", capability: .buildTool(), dependencies: ["interface-fingerprint"],
                path: "BuildTools/InterfaceFingerprintPlugin"),
        // The one kernel Swift cannot express: bfloat16 dot products (AVX-512 BF16), chosen at run time.
        .target(name: "CBF16", path: "CBF16", cSettings: [.unsafeFlags(["-O3"], .when(configuration: .release))]),
        .target(
            name: "CoreRuntime",
            dependencies: ["CBF16"],
            path: ".",
            exclude: ["Package.swift", "BuildTools", "CBF16"],
            swiftSettings: [
                .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
                .unsafeFlags((targetCPU.map { ["-target-cpu", $0] } ?? []) + ["-Xcc", "-fno-math-errno"]),
            ],
            linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("m")],
            plugins: ["InterfaceFingerprintPlugin"]
        ),
    ],
    swiftLanguageModes: [.v5]
)
