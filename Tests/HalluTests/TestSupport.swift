import Foundation
@testable import CoreRuntime

/// Paths the tests read: the repository's fixtures and its reference data (`data/`, see data/SOURCES.md).
enum TestPaths {
    /// The repository root (this file is Tests/HalluTests/TestSupport.swift).
    static let repo: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    /// `Tests/Fixtures`.
    static let fixtures = repo.appendingPathComponent("Tests/Fixtures")
    /// A file under the repository's `data/` folder (real files released with the papers).
    static func data(_ rel: String) -> String { repo.appendingPathComponent("data/\(rel)").path }
    /// A fresh temporary folder.
    static func tempDir(_ tag: String = "t") -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("hallu-\(tag)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}

/// A small byte-level BPE tokenizer shared by tests that need real text encoding.
enum TestText {
    static let corpus = ["A chat between a curious human and an artificial intelligence assistant.",
                         "USER: Describe the image. ASSISTANT: A red cup on a table.",
                         "There is a cat next to a dog. Is there a bus in the image? Yes, there is a bus.",
                         "No, there is no kite in the image. A plate with a cake and a fork."]
    static let tokenizer: Tokenizer = Tokenizer.train(corpus: corpus, vocabSize: 320)
}

extension TestPaths {
    /// A built plugin library of the configuration the tests were built in.
    static func builtLibrary(_ name: String) -> String {
        #if DEBUG
        let config = "debug"
        #else
        let config = "release"
        #endif
        return repo.appendingPathComponent(".build/\(config)/lib\(name).so").path
    }
}

/// Golden JSON read with exact numbers. Foundation's JSONSerialization on Linux can be one unit in
/// the last place off when it parses a double; goldens compared bit for bit go through `OrderedJSON`,
/// whose numbers are `Double(text)`, and come back as Foundation-style values.
enum ExactJSON {
    static func read(_ path: String) throws -> Any { value(try OrderedJSON.read(path)) }

    static func value(_ j: OrderedJSON) -> Any {
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
