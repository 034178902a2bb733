// swift-tools-version:6.0
import PackageDescription

// The example plugin of docs/ADDING_A_METHOD.md. It builds anywhere: point HALLU_CORE at the
// Sources/CoreRuntime folder of the hallu checkout whose `hallu` will load it (inside that checkout
// the default finds it).
let core = Context.environment["HALLU_CORE"] ?? "../../../Sources/CoreRuntime"

let package = Package(
    name: "ObjectUnlikelihood",
    // One dynamic library: libObjectUnlikelihood.so, loaded with `hallu ... --plugin`.
    products: [.library(name: "ObjectUnlikelihood", type: .dynamic, targets: ["ObjectUnlikelihood"])],
    // CoreRuntime as a path package, so that the plugin and hallu share one libCoreRuntime.so.
    dependencies: [.package(path: core)],
    targets: [
        .target(name: "ObjectUnlikelihood", dependencies: [.product(name: "CoreRuntime", package: "CoreRuntime")],
                swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])],
                // Writes the fingerprint of the CoreRuntime interface it compiles against
                // (`halluInterfaceFingerprint`), which hallu checks before it runs any plugin code.
                plugins: [.plugin(name: "InterfaceFingerprint", package: "CoreRuntime")]),
        .testTarget(name: "ObjectUnlikelihoodTests",
                    dependencies: ["ObjectUnlikelihood", .product(name: "CoreRuntime", package: "CoreRuntime")],
                    swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])]),
    ],
    swiftLanguageModes: [.v5]
)
