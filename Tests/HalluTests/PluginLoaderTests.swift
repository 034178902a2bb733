import Foundation
import Testing
@testable import CoreRuntime

/// Compiles a small C shared library for the loader's error paths.
private func buildCLibrary(_ source: String, name: String) throws -> String {
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

private func message(_ body: () throws -> Void) -> String {
    do { try body(); return "no error" } catch let e as HalluError { return e.message } catch { return "\(error)" }
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

@Test func loaderRefusesAWrongABIAndSaysToRebuild() throws {
    let so = try buildCLibrary("int hallu_plugin_abi(void) { return 999; }\nvoid *hallu_plugin_entry(void) { return 0; }\n", name: "OldABI")
    let m = message { try PluginRegistry(builtins: false).load(so) }
    #expect(m.contains("ABI 999") && m.contains("rebuild the plugin"))
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
        registry.discover(paths: [dir])
        found = registry.descriptors.map(\.id)
        break
    }
    for id in ["sft", "selective-eos", "scoring-eos", "ha-dpo", "hsadpo", "hacl"] {
        #expect(found.contains(id), "\(id) missing from \(found)")
    }
    #expect(throws: HalluError.self) { try Composition.validate([try registry.make("selective-eos"), try registry.make("selective-eos")]) }
}
