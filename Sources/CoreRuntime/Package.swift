// swift-tools-version:6.0
import PackageDescription

// CoreRuntime is its own package so that it builds as ONE shared library that the `hallu`
// executable and every method plugin load once. Linked statically into each of them, every
// type would exist twice and `as? Method` on a plugin's object would silently fail.
let package = Package(
    name: "CoreRuntime",
    products: [
        .library(name: "CoreRuntime", type: .dynamic, targets: ["CoreRuntime"]),
    ],
    targets: [
        .target(
            name: "CoreRuntime",
            path: ".",
            exclude: ["Package.swift"],
            swiftSettings: [
                .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
                .unsafeFlags(["-target-cpu", "haswell", "-Xcc", "-fno-math-errno"]),
            ],
            linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("m")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
