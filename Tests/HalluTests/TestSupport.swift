import Foundation

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
