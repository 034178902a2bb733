import Foundation
@testable import CoreRuntime

/// Paths the tests read: the repository's fixtures and the shared data folder beside the repository.
enum TestPaths {
    /// The repository root (this file is Tests/HalluTests/TestSupport.swift).
    static let repo: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    /// `Tests/Fixtures`.
    static let fixtures = repo.appendingPathComponent("Tests/Fixtures")
    /// `../shared` beside the repository (override with HALLU_SHARED).
    static let shared: URL = {
        if let p = ProcessInfo.processInfo.environment["HALLU_SHARED"] { return URL(fileURLWithPath: p) }
        return repo.deletingLastPathComponent().appendingPathComponent("shared")
    }()
    /// A file under `../shared/data`.
    static func sharedData(_ rel: String) -> String { shared.appendingPathComponent("data/\(rel)").path }
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
