import PackagePlugin

/// Runs `interface-fingerprint` over CoreRuntime's sources before a module compiles. Applied to
/// CoreRuntime, it generates `PluginABI.host`, the running library's fingerprint; applied to a
/// plugin's entry module (any target that depends on CoreRuntime), it generates
/// `halluInterfaceFingerprint`, the fingerprint of the CoreRuntime that module is compiled
/// against, which the plugin returns from `hallu_plugin_abi`. Both are hashes of the same public
/// interface, made from the sources, so a source file of the module itself (not an inlined value
/// that an incremental build might keep) carries them: a changed CoreRuntime always rewrites it.
@main
struct InterfaceFingerprintPlugin: BuildToolPlugin {
    struct NoCoreRuntime: Error, CustomStringConvertible {
        var target: String
        var description: String { "InterfaceFingerprint: target \(target) does not depend on CoreRuntime" }
    }

    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let module = target as? SourceModuleTarget else { return [] }
        let isCore = module.name == "CoreRuntime"
        let core = isCore ? module : module.recursiveTargetDependencies.compactMap { $0 as? SourceModuleTarget }.first { $0.name == "CoreRuntime" }
        guard let core else { throw NoCoreRuntime(target: module.name) }
        let sources = core.sourceFiles(withSuffix: "swift").map(\.url)
        let output = context.pluginWorkDirectoryURL.appending(path: "InterfaceFingerprint.swift")
        // The list of declarations behind the hash goes beside it, for finding out what changed. It is
        // not a declared output: SwiftPM would copy it into a resource bundle.
        let listing = context.pluginWorkDirectoryURL.appending(path: "interface.txt")
        return [.buildCommand(
            displayName: "Fingerprinting the public interface of CoreRuntime for \(module.name)",
            executable: try context.tool(named: "interface-fingerprint").url,
            arguments: [isCore ? "core" : "client", core.directoryURL.path, output.path, listing.path] + sources.map(\.path),
            inputFiles: sources,
            outputFiles: [output])]
    }
}
