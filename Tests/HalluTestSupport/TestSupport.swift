import Foundation
import CoreRuntime

/// Paths the tests read: the repository's fixtures and its reference data (`data/`, see data/SOURCES.md).
public enum TestPaths {
    /// The repository root (this file is Tests/HalluTestSupport/TestSupport.swift).
    public static let repo: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    /// `Tests/Fixtures`.
    public static let fixtures = repo.appendingPathComponent("Tests/Fixtures")
    /// A file under the repository's `data/` folder (real files released with the papers).
    public static func data(_ rel: String) -> String { repo.appendingPathComponent("data/\(rel)").path }
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

/// Sets each (key, value) over `defaults` and lists the cases `parse` did not refuse with a
/// `HalluError` naming the setting as `--set` spells it (`method.key`); empty when all were.
public func settingsNotRefused(_ cases: [(String, String)], over defaults: [String: String], method: String,
                               _ parse: ([String: String]) throws -> Void) -> [String] {
    cases.compactMap { key, bad in
        var values = defaults
        values[key] = bad
        let m = message { try parse(values) }
        return m.contains("\(method).\(key)") ? nil : "\(key)=\(bad): \(m.isEmpty ? "accepted" : m)"
    }
}

/// Golden JSON read with exact numbers. Foundation's JSONSerialization on Linux can be one unit in
/// the last place off when it parses a double; goldens compared bit for bit go through `OrderedJSON`,
/// whose numbers are `Double(text)`, and come back as Foundation-style values.
public enum ExactJSON {
    public static func read(_ path: String) throws -> Any { value(try OrderedJSON.read(path)) }

    public static func value(_ j: OrderedJSON) -> Any {
        switch j {
        case .null: return NSNull()
        case .bool(let b): return b
        case .int(let i): return i
        case .number(let d): return d
        case .string(let s): return s
        case .array(let a): return a.map(value)
        case .object(let kv):
            var out: [String: Any] = [:]
            for (k, v) in kv { out[k] = value(v) }
            return out
        }
    }
}
