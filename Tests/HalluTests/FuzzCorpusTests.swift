import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// The fuzz harness's own executable, built beside the test binary (like `hallu`).
enum HalluFuzz {
    static let executable: URL? = {
        guard let hallu = HalluCLI.executable else { return nil }
        let u = hallu.deletingLastPathComponent().appendingPathComponent("hallu-fuzz")
        return FileManager.default.isExecutableFile(atPath: u.path) ? u : nil
    }()

    static func run(_ args: [String], timeout: TimeInterval = 900) throws -> (status: Int32, stdout: String, stderr: String) {
        guard let exe = executable else { throw HalluError("no hallu-fuzz executable beside hallu: build it (swift build)") }
        let dir = TestPaths.tempDir("fuzz-io")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        let deadline = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: deadline)
        p.waitUntilExit()
        deadline.cancel()
        return (p.terminationStatus, String(decoding: try Data(contentsOf: out), as: UTF8.self),
                String(decoding: try Data(contentsOf: err), as: UTF8.self))
    }
}

/// Every input that once crashed, hung or gave an unclear error, kept in Tests/Fixtures/fuzz/corpus,
/// must now end in success or a clear error.
@Test func fuzzCorpusReplaysCleanly() throws {
    let corpus = TestPaths.fixtures.appendingPathComponent("fuzz/corpus")
    let r = try HalluFuzz.run(["replay", corpus.path, "--fixtures", TestPaths.fixtures.path])
    #expect(r.status == 0, "replay failed (exit \(r.status)); last case started: \(r.stderr.split(separator: "\n").last ?? "")\n\(r.stdout.suffix(3000))")
    #expect(r.stdout.contains("replayed") && r.stdout.contains(", 0 not ending"), "\(r.stdout.suffix(2000))")
}
