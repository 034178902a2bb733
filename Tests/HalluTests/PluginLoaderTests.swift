import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Compiles a small C shared library for the loader's error paths.
func buildCLibrary(_ source: String, name: String) throws -> String {
    let dir = TestPaths.tempDir("plugin")
    let c = dir.appendingPathComponent("\(name).c"), so = dir.appendingPathComponent("lib\(name).so")
    try source.write(to: c, atomically: true, encoding: .utf8)
    let p = Process()
    let clang = ["/opt/swift/usr/bin/clang", "/usr/bin/clang", "/usr/bin/gcc"].first { FileManager.default.isExecutableFile(atPath: $0) }!
    p.executableURL = URL(fileURLWithPath: clang)
    p.arguments = ["-shared", "-fPIC", "-o", so.path, c.path]
    try p.run()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0)
    return so.path
}

@Test func loaderRejectsAMissingFile() {
    let m = message { try PluginRegistry(builtins: false).load("/nonexistent/libNope.so") }
    #expect(m.contains("/nonexistent/libNope.so") && m.contains("not found"))
}

@Test func loaderRejectsANonLibrary() throws {
    let f = TestPaths.tempDir("plugin").appendingPathComponent("libText.so")
    try "not a library".write(to: f, atomically: true, encoding: .utf8)
    let m = message { try PluginRegistry(builtins: false).load(f.path) }
    #expect(m.contains(f.path) && m.contains("cannot be loaded as a shared library"))
}

@Test func loaderRejectsALibraryWithoutTheEntrySymbols() throws {
    let so = try buildCLibrary("int unrelated(void) { return 1; }\n", name: "NoEntry")
    let m = message { try PluginRegistry(builtins: false).load(so) }
    #expect(m.contains("is not a hallu plugin"))
}

@Test func loaderRefusesAPluginBuiltAgainstAnotherInterfaceAndSaysToRebuild() throws {
    let so = try buildCLibrary("unsigned long long hallu_plugin_abi(void) { return 999ULL; }\nvoid *hallu_plugin_entry(void) { return 0; }\n", name: "OldABI")
    let m = message { try PluginRegistry(builtins: false).load(so) }
    #expect(m.contains("another CoreRuntime interface") && m.contains("00000000000003e7") && m.contains(PluginABI.text(PluginABI.host)))
    #expect(m.contains("rebuild the plugin"))
}

@Test func anEntryThatReturnsNULLIsAnErrorNotACrash() throws {
    let abi = "unsigned long long hallu_plugin_abi(void) { return \(PluginABI.host)ULL; }\n"
    let so = try buildCLibrary(abi + "void *hallu_plugin_entry(void) { return 0; }\n", name: "NullEntry")
    let m = message { try PluginRegistry(builtins: false).load(so) }
    #expect(m.contains(so) && m.contains("returned NULL"))
    // Discovery reports it too: a library that exports the plugin symbols is a plugin, broken or not.
    let m2 = message { try PluginRegistry(builtins: false).discover(paths: [URL(fileURLWithPath: so).deletingLastPathComponent().path]) }
    #expect(m2.contains("returned NULL"))
}

@Test func discoveryNeverLoadsLibrariesThatAreNotPlugins() throws {
    // A library whose initialiser would leave a file behind if it ever ran.
    let marker = TestPaths.tempDir("plugin-marker").appendingPathComponent("ran")
    let so = try buildCLibrary("""
        #include <stdio.h>
        __attribute__((constructor)) static void mark(void) { FILE *f = fopen("\(marker.path)", "w"); if (f) fclose(f); }
        int unrelated(void) { return 1; }
        """, name: "Foreign")
    let registry = PluginRegistry(builtins: false)
    try registry.discover(paths: [URL(fileURLWithPath: so).deletingLastPathComponent().path])
    #expect(registry.plugins.isEmpty)
    #expect(!FileManager.default.fileExists(atPath: marker.path))
    // The same file named explicitly is read, not loaded, and refused.
    #expect(message { try registry.load(so) }.contains("is not a hallu plugin"))
    #expect(!FileManager.default.fileExists(atPath: marker.path))
}

@Test func elfReaderListsExportedFunctionsAndSurvivesTruncatedFiles() throws {
    let so = try buildCLibrary("int hallu_plugin_one(void) { return 1; }\nstatic int hallu_plugin_hidden(void) { return 2; }\nint other(void) { return hallu_plugin_hidden(); }\n", name: "Symbols")
    #expect(try ELFSymbols.exportedFunctions(so, prefix: "hallu_plugin_") == .functions(["hallu_plugin_one"]))
    let bytes = try Data(contentsOf: URL(fileURLWithPath: so))
    let dir = TestPaths.tempDir("elf-cut")
    // Every truncation reads without a crash; most lose the symbol table.
    for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
        let f = dir.appendingPathComponent("cut\(cut).so")
        try bytes.prefix(cut).write(to: f)
        let contents = try ELFSymbols.exportedFunctions(f.path, prefix: "hallu_plugin_")
        if case .functions(let names) = contents { #expect(names.isSubset(of: ["hallu_plugin_one"])) }
    }
    let text = dir.appendingPathComponent("text.so")
    try "not a library".write(to: text, atomically: true, encoding: .utf8)
    #expect(try ELFSymbols.exportedFunctions(text.path, prefix: "") == .notELF)
}

@Test func twoPluginsWithOneMethodIdAreAnError() throws {
    let registry = PluginRegistry()
    let first = HalluPlugin(name: "A", methods: [MethodDescriptor(id: "m", summary: "", make: { SFTMethod() })])
    try registry.register(first)
    let m = message { try registry.register(HalluPlugin(name: "B", methods: [MethodDescriptor(id: "m", summary: "", make: { SFTMethod() })])) }
    #expect(m.contains("\"m\"") && m.contains("already provides"))
    #expect(message { try registry.register(HalluPlugin(name: "C", methods: [MethodDescriptor(id: "sft", summary: "", make: { SFTMethod() })])) }
        .contains("already provides"))
    #expect(registry.plugins.count == 2)
}

@Test func theInterfaceFingerprintIsGeneratedAtBuildTime() {
    #expect(PluginABI.host != 0 && PluginABI.text(PluginABI.host).count == 16)
}

@Test func unknownMethodListsWhatExistsAndSuggests() {
    let r = PluginRegistry()
    let m = message { _ = try r.make("stf") }
    #expect(m.contains("Did you mean \"sft\"") && m.contains("Available: sft"))
}

@Test func builtPluginsLoadAndExposeTheirMethods() throws {
    let registry = PluginRegistry()
    var found: [String] = []
    for config in ["release", "debug"] {
        let dir = TestPaths.repo.appendingPathComponent(".build/\(config)").path
        guard FileManager.default.fileExists(atPath: dir + "/libHADPO.so") else { continue }
        try registry.discover(paths: [dir])
        found = registry.descriptors.map(\.id)
        break
    }
    for id in ["sft", "selective-eos", "scoring-eos", "ha-dpo", "hsadpo", "hacl"] {
        #expect(found.contains(id), "\(id) missing from \(found)")
    }
    #expect(throws: HalluError.self) { try Composition.validate([try registry.make("selective-eos"), try registry.make("selective-eos")]) }
}

@Test func halluPluginsReportsBrokenAndDuplicatePluginsAsErrors() throws {
    let abi = "unsigned long long hallu_plugin_abi(void) { return \(PluginABI.host)ULL; }\n"
    let null = try buildCLibrary(abi + "void *hallu_plugin_entry(void) { return 0; }\n", name: "NullEntry")
    let r = try HalluCLI.run(["plugins", "--plugin", null])
    #expect(r.status == 1 && r.stderr.contains("returned NULL"), "\(r.status) \(r.stderr)")
    // The same plugin library found twice (next to hallu and in $HALLU_PLUGIN_PATH): one id, two libraries.
    guard let exe = HalluCLI.executable else { return }
    let lib = exe.deletingLastPathComponent().appendingPathComponent("libHADPO.so")
    guard FileManager.default.fileExists(atPath: lib.path) else { return }
    let copy = TestPaths.tempDir("dup-plugin")
    try FileManager.default.copyItem(at: lib, to: copy.appendingPathComponent("libHADPOCopy.so"))
    let d = try HalluCLI.run(["plugins"], environment: ["HALLU_PLUGIN_PATH": copy.path])
    #expect(d.status == 1 && d.stderr.contains("\"ha-dpo\"") && d.stderr.contains("already provides"), "\(d.status) \(d.stderr)")
}
