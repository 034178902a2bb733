import Foundation

/// Generates an out-of-tree method plugin: a Swift package with one dynamic library that depends on
/// hallu's CoreRuntime by path, exports the plugin entry points, and contains a working method.
public enum Scaffold {
    /// "my-method" / "MyMethod" -> "MyMethod".
    public static func typeName(_ name: String) -> String {
        let parts = name.split { !$0.isLetter && !$0.isNumber }
        let joined = parts.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        return joined.first?.isLetter == true ? joined : "M" + joined
    }

    /// "MyMethod" -> "mymethod" (the id used with --method).
    public static func methodId(_ name: String) -> String {
        name.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "-" }
    }

    /// Finds Sources/CoreRuntime from the running executable (…/.build/<cfg>/hallu -> repo).
    public static func locateCore() throws -> String {
        var dir = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        for _ in 0..<6 {
            dir.deleteLastPathComponent()
            let cand = dir.appendingPathComponent("Sources/CoreRuntime/Package.swift")
            if FileManager.default.fileExists(atPath: cand.path) { return cand.deletingLastPathComponent().path }
        }
        throw HalluError("new-method: cannot find hallu's Sources/CoreRuntime from this executable; pass --core PATH")
    }

    /// Writes the package; refuses to overwrite an existing folder.
    public static func create(name: String, at dir: URL, corePath: String) throws -> [String] {
        let type = typeName(name), id = methodId(name)
        guard !FileManager.default.fileExists(atPath: dir.path) else { throw HalluError.file(dir.path, "already exists; choose another --out") }
        let manifest = """
        // swift-tools-version:6.0
        import PackageDescription

        // A hallu method plugin. It must link CoreRuntime dynamically (as a path package) so that the
        // plugin and hallu share one copy of every CoreRuntime type.
        let package = Package(
            name: "\(type)",
            products: [.library(name: "\(type)", type: .dynamic, targets: ["\(type)"])],
            dependencies: [.package(path: "\(corePath)")],
            targets: [
                // InterfaceFingerprint writes the fingerprint of the CoreRuntime interface the plugin is
                // built against into it (`halluInterfaceFingerprint`, returned by hallu_plugin_abi).
                .target(name: "\(type)", dependencies: [.product(name: "CoreRuntime", package: "CoreRuntime")],
                        swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])],
                        plugins: [.plugin(name: "InterfaceFingerprint", package: "CoreRuntime")]),
            ],
            swiftLanguageModes: [.v5]
        )

        """
        let source = """
        import CoreRuntime

        /// \(type): describe the idea and the paper here.
        ///
        /// The loss below is ordinary supervised fine-tuning scaled by `weight`; replace it with your objective.
        public final class \(type)Method: Method {
            public init() {}
            public var id: String { "\(id)" }
            public var summary: String { "\(type): supervised loss with a configurable weight (template)" }
            public var options: [MethodOption] { [MethodOption("weight", "1.0", "multiplies the loss")] }
            public var dataKinds: [DataKind] { [.sft] }
            private var weight: Float = 1

            public func configure(_ values: [String: String]) throws {
                weight = try OptionValues(method: id, values: values).float("weight")
            }

            public func loss(_ batch: Batch, _ context: TrainContext) throws -> LossOutput {
                let (loss, tokens) = try context.lmLoss(context.sftInputs(batch.conversations))
                return LossOutput(loss: loss.scaled(weight), metrics: ["tokens": Double(tokens)])
            }
        }

        // The library's two C entry points (see `HalluPlugin`).
        @_cdecl("hallu_plugin_abi")
        public func halluPluginABI() -> UInt64 { halluInterfaceFingerprint }

        @_cdecl("hallu_plugin_entry")
        public func halluPluginEntry() -> UnsafeMutableRawPointer? {
            HalluPlugin(name: "\(type)", methods: [MethodDescriptor(id: "\(id)", summary: "\(type) (template)", make: { \(type)Method() })]).export()
        }

        """
        let readme = """
        # \(type)

        A hallu method plugin. Build with `swift build`, then:

            hallu run --plugin .build/debug/lib\(type).so --method \(id) --preset tiny --steps 20

        """
        let src = dir.appendingPathComponent("Sources/\(type)")
        try FileManager.default.createDirectory(at: src, withIntermediateDirectories: true)
        try AtomicFile.write(manifest, to: dir.appendingPathComponent("Package.swift"))
        try AtomicFile.write(source, to: src.appendingPathComponent("\(type).swift"))
        try AtomicFile.write(readme, to: dir.appendingPathComponent("README.md"))
        try AtomicFile.write(".build/\nPackage.resolved\n", to: dir.appendingPathComponent(".gitignore"))
        return ["Package.swift", "Sources/\(type)/\(type).swift", "README.md", ".gitignore"]
    }
}
