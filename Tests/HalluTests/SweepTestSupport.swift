import Foundation
@testable import CoreRuntime
import HalluTestSupport

/// A small world and an untrained tiny base model, built once per test process, so that sweep
/// cells run in seconds without the cached default baseline.
enum SweepFixture {
    struct Paths { let root: URL; let data: URL; let base: URL }

    static let shared: Result<Paths, Error> = Result { try make(in: TestPaths.tempDir("sweep-fixture")) }

    static func make(in root: URL) throws -> Paths {
        var w = WorldConfig()
        w.seed = 7
        w.trainImages = 40
        w.evalImages = 12
        let data = root.appendingPathComponent("world")
        _ = try SceneWorld.synth(config: w, outDir: data)
        let ds = try Dataset.load(data.path, kinds: [.sft, .preference, .contrastive], checkImages: false)
        let tok = DefaultAssets.trainTokenizer(ds)
        guard let image = tok.id(of: "<image>") else { throw HalluError("fixture tokenizer lacks <image>") }
        let cfg = try LlavaPreset.tiny.config(vocabSize: tok.vocabSize, imageSize: w.imageSize, imageTokenIndex: image,
                                              bosTokenId: tok.bosId, eosTokenId: tok.eosId, padTokenId: tok.padId)
        let base = root.appendingPathComponent("base")
        let tokFile = root.appendingPathComponent("tokenizer.json")
        try tok.save(tokFile.path)
        try LlavaModel(cfg, seed: 11).save(to: base, tokenizerJSON: try Data(contentsOf: tokFile), preprocessor: .square(cfg.vision.imageSize))
        var info = HalluCheckpointInfo()
        info.systemPrompt = DefaultAssets.worldSystemPrompt
        try CheckpointJSON.write(info, to: base.appendingPathComponent(HalluCheckpointInfo.fileName))
        return Paths(root: root, data: data, base: base)
    }

    /// The built hallu executable: `$HALLU_BIN`, else .build/{debug,release}/hallu (newest first).
    static func hallu() throws -> URL {
        if let p = ProcessInfo.processInfo.environment["HALLU_BIN"] { return URL(fileURLWithPath: p) }
        let fm = FileManager.default
        let candidates = ["debug", "release"].map { TestPaths.repo.appendingPathComponent(".build/\($0)/hallu") }
            .filter { fm.isExecutableFile(atPath: $0.path) }
        let newest = candidates.max { a, b in
            let da = (try? fm.attributesOfItem(atPath: a.path)[.modificationDate] as? Date) ?? .distantPast
            let db = (try? fm.attributesOfItem(atPath: b.path)[.modificationDate] as? Date) ?? .distantPast
            return da < db
        }
        guard let newest else { throw HalluError("no hallu executable: run `swift build` or set HALLU_BIN") }
        return newest
    }

    /// Starts `hallu` with arguments; the caller waits. Output goes to files in `logDir`.
    static func start(_ args: [String], cwd: URL, env extra: [String: String] = [:], logDir: URL, tag: String) throws -> Process {
        let p = Process()
        p.executableURL = try hallu()
        p.arguments = args
        p.currentDirectoryURL = cwd
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra { env[k] = v }
        p.environment = env
        _ = FileManager.default.createFile(atPath: logDir.appendingPathComponent("\(tag).out").path, contents: nil)
        _ = FileManager.default.createFile(atPath: logDir.appendingPathComponent("\(tag).err").path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: logDir.appendingPathComponent("\(tag).out"))
        p.standardError = try FileHandle(forWritingTo: logDir.appendingPathComponent("\(tag).err"))
        try p.run()
        return p
    }

    /// Runs `hallu` to completion; returns the exit status and the output.
    @discardableResult
    static func run(_ args: [String], cwd: URL, env: [String: String] = [:], logDir: URL, tag: String) throws -> (status: Int32, out: String, err: String) {
        let p = try start(args, cwd: cwd, env: env, logDir: logDir, tag: tag)
        p.waitUntilExit()
        let out = (try? String(contentsOf: logDir.appendingPathComponent("\(tag).out"), encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: logDir.appendingPathComponent("\(tag).err"), encoding: .utf8)) ?? ""
        return (p.terminationStatus, out, err)
    }
}
