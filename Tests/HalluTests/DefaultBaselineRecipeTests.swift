import Foundation
import Testing
@testable import CoreRuntime

/// The default baseline's cache key.
@Test func baselineCacheKeyFollowsTheDataFolderAndThePreset() {
    let registry = PluginRegistry(builtins: false)
    func dir(_ preset: String, _ data: String) -> String {
        BaselineBuilder(preset: preset, dataDir: URL(fileURLWithPath: data), registry: registry, log: { _ in }).dir.lastPathComponent
    }
    #expect(dir("small", "/data/w") == dir("small", "/data/w"))
    #expect(dir("small", "/data/w") != dir("small", "/data/v"))
    #expect(dir("small", "/data/w") != dir("tiny", "/data/w"))
    #expect(dir("small", "/data/w").hasPrefix("baseline-small-"))
}
