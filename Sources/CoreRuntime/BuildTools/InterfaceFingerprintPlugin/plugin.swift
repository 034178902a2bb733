import PackagePlugin

/// Runs `interface-fingerprint` over CoreRuntime's sources before they compile. The tool writes
/// `InterfaceFingerprint.swift`, which gives `PluginABI.interfaceFingerprint` the hash of the
/// module's public interface (and the stored layout of its public types). A plugin inlines that value
/// when it is compiled, so a plugin carries the interface it was built against and the loader can
/// refuse one built against another CoreRuntime.
@main
struct InterfaceFingerprintPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let module = target as? SourceModuleTarget else { return [] }
        let sources = module.sourceFiles(withSuffix: "swift").map(\.url)
        let output = context.pluginWorkDirectoryURL.appending(path: "InterfaceFingerprint.swift")
        // The list of declarations behind the hash goes beside it, for finding out what changed. It is
        // not a declared output: SwiftPM would copy it into a resource bundle.
        let listing = context.pluginWorkDirectoryURL.appending(path: "interface.txt")
        return [.buildCommand(
            displayName: "Fingerprinting the public interface of \(target.name)",
            executable: try context.tool(named: "interface-fingerprint").url,
            arguments: [module.directoryURL.path, output.path, listing.path] + sources.map(\.path),
            inputFiles: sources,
            outputFiles: [output])]
    }
}
