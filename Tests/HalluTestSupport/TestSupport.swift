import Foundation
import CoreRuntime

/// Paths the tests read: the repository's fixtures and the shared data folder beside the repository.
public enum TestPaths {
    /// The repository root (this file is Tests/HalluTestSupport/TestSupport.swift).
    public static let repo: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    /// `Tests/Fixtures`.
    public static let fixtures = repo.appendingPathComponent("Tests/Fixtures")
    /// `../shared` beside the repository (override with HALLU_SHARED).
    public static let shared: URL = {
        if let p = ProcessInfo.processInfo.environment["HALLU_SHARED"] { return URL(fileURLWithPath: p) }
        return repo.deletingLastPathComponent().appendingPathComponent("shared")
    }()
    /// A file under `../shared/data`.
    public static func sharedData(_ rel: String) -> String { shared.appendingPathComponent("data/\(rel)").path }
    /// A fresh temporary folder.
    public static func tempDir(_ tag: String = "t") -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("hallu-\(tag)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}

/// A small byte-level BPE tokenizer shared by tests that need real text encoding.
public enum TestText {
    public static let corpus = ["A chat between a curious human and an artificial intelligence assistant.",
                         "USER: Describe the image. ASSISTANT: A red cup on a table.",
                         "There is a cat next to a dog. Is there a bus in the image? Yes, there is a bus.",
                         "No, there is no kite in the image. A plate with a cake and a fork."]
    public static let tokenizer: Tokenizer = Tokenizer.train(corpus: corpus, vocabSize: 320)
}

/// A tiny LLaVA for fast tests.
public func tinyConfig(vocab: Int = TestText.tokenizer.vocabSize + 1) -> LlavaConfig {
    try! LlavaConfig.tiny(vocabSize: vocab, imageTokenIndex: vocab - 1)
}

public func tinyPixels(_ n: Int, seed: UInt64 = 3) -> Tensor {
    var rng = SeededRNG(seed: seed)
    return Tensor.uniform([n, 3, 32, 32], low: -1, high: 1, rng: &rng)
}


/// A method of a plugin whose module the test links, made through a registry as `hallu run` does
/// (the registry gets the plugin's `HalluPlugin` directly instead of loading its library).
public func makeMethod(_ plugin: HalluPlugin, _ id: String) throws -> Method {
    let registry = PluginRegistry(builtins: false)
    try registry.register(plugin)
    return try registry.make(id)
}

/// Writes `text` to `dir/name` (atomically) and returns the path.
public func write(_ text: String, _ name: String, in dir: URL) throws -> String {
    let u = dir.appendingPathComponent(name)
    try AtomicFile.write(text, to: u)
    return u.path
}

/// The message of the `HalluError` (or any error) `body` throws; "" when it throws none.
public func message(_ body: () throws -> Void) -> String {
    do { try body() } catch let e as HalluError { return e.message } catch { return "\(error)" }
    return ""
}
