import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Runs the built `hallu` executable as a subprocess, as a user or a script would.
///
/// The executable is `$HALLU_BIN` when set; otherwise the `hallu` beside the running test binary (the
/// configuration `swift test` just built); otherwise the newer of `.build/debug/hallu` and
/// `.build/release/hallu`.
enum HalluCLI {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String

        /// Standard output parsed as JSON.
        func json() throws -> Any {
            do {
                return try JSONSerialization.jsonObject(with: Data(stdout.utf8))
            } catch {
                throw HalluError("hallu printed no JSON (exit \(status)): \(stdout.prefix(400)) \(stderr.prefix(400))")
            }
        }

        /// Standard output parsed as a JSON object.
        func object() throws -> [String: Any] {
            guard let o = try json() as? [String: Any] else { throw HalluError("hallu printed JSON that is not an object: \(stdout.prefix(400))") }
            return o
        }
    }

    static let executable: URL? = {
        let fm = FileManager.default
        func isProgram(_ u: URL) -> Bool {
            var isDir: ObjCBool = false
            return fm.fileExists(atPath: u.path, isDirectory: &isDir) && !isDir.boolValue && fm.isExecutableFile(atPath: u.path)
        }
        if let p = ProcessInfo.processInfo.environment["HALLU_BIN"], !p.isEmpty { return URL(fileURLWithPath: p) }
        let testBinary = URL(fileURLWithPath: (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        var dir = testBinary.deletingLastPathComponent()
        // On macOS the test binary sits inside <name>.xctest/Contents/MacOS.
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("hallu")
            if isProgram(candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let built = ["debug", "release"].map { TestPaths.repo.appendingPathComponent(".build/\($0)/hallu") }
            .filter(isProgram)
        func modified(_ u: URL) -> Date { ((try? fm.attributesOfItem(atPath: u.path))?[.modificationDate] as? Date) ?? .distantPast }
        return built.max { modified($0) < modified($1) }
    }()

    /// Runs `hallu args...` and waits for it (killing it after `timeout` seconds). `environment` is
    /// added to this process's environment.
    static func run(_ args: [String], cwd: URL? = nil, environment: [String: String] = [:],
                    timeout: TimeInterval = 600) throws -> Result {
        guard let executable else {
            throw HalluError("no hallu executable: build it (swift build) or set HALLU_BIN")
        }
        let dir = TestPaths.tempDir("cli-io")
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = executable
        process.arguments = args
        if let cwd { process.currentDirectoryURL = cwd }
        var env = ProcessInfo.processInfo.environment
        // Anything that would otherwise fall back to the user's cache stays inside the test's folders.
        if env["HALLU_CACHE"] == nil { env["HALLU_CACHE"] = dir.appendingPathComponent("cache").path }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: deadline)
        process.waitUntilExit()
        deadline.cancel()
        try out.close()
        try err.close()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                      stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }
}

/// Inputs the CLI tests share, each made once per test process.
enum CLIFixtures {
    private static let lock = NSRecursiveLock()
    private static var made: [String: URL] = [:]

    private static func once(_ key: String, _ make: () throws -> URL) throws -> URL {
        lock.lock(); defer { lock.unlock() }
        if let u = made[key] { return u }
        let u = try make()
        made[key] = u
        return u
    }

    /// A tiny scene world: 8 train and 4 eval images of 32x32 pixels.
    static func world() throws -> URL {
        try once("world") {
            var config = WorldConfig()
            config.seed = 3
            config.trainImages = 8
            config.evalImages = 4
            let dir = TestPaths.tempDir("cli-world")
            try SceneWorld.synth(config: config, outDir: dir)
            try rewriteSceneFactsForSHR(dir.appendingPathComponent(SceneWorld.Files.shrFacts))
            return dir
        }
    }

    /// The world writes objects with "color" and relations as `[subject, relation, object]`, while
    /// `SHREval.loadSceneFacts` reads "colour" and `{"subject", "relation", "object"}`; records already
    /// in the second form are left as they are.
    private static func rewriteSceneFactsForSHR(_ url: URL) throws {
        var lines: [String] = []
        for (_, var record) in try JSONFiles.readJSONLines(url.path) {
            if let objects = record["objects"] as? [[String: Any]] {
                record["objects"] = objects.map { o -> [String: Any] in
                    var o = o
                    if o["colour"] == nil, let c = o["color"] { o["colour"] = c }
                    return o
                }
            }
            if let relations = record["relations"] as? [[Any]] {
                record["relations"] = relations.map { r -> [String: Any] in
                    ["subject": r.first ?? 0, "relation": r.count > 1 ? r[1] : "", "object": r.last ?? 0]
                }
            }
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self))
        }
        try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: url)
    }

    /// A tiny random LLaVA checkpoint with the test tokenizer and a 32-pixel preprocessor. With
    /// `eosFirst`, the LM head is rewritten so that greedy decoding emits EOS at once.
    static func checkpoint(eosFirst: Bool = false) throws -> URL {
        try once("checkpoint-\(eosFirst)") {
            let root = TestPaths.tempDir("cli-ckpt")
            let tokenizerFile = root.appendingPathComponent("tokenizer.json")
            try TestText.tokenizer.save(tokenizerFile.path)
            let model = LlavaModel(tinyConfig(), seed: 11)
            let dir = root.appendingPathComponent("model")
            try model.save(to: dir, tokenizerJSON: try Data(contentsOf: tokenizerFile),
                           preprocessor: .square(model.config.vision.imageSize))
            guard eosFirst else { return dir }
            try makeEOSFirst(dir)
            return dir
        }
    }

    /// Zeroes every LM-head row but EOS's, and points EOS's row along the first step's hidden state
    /// (which the LM head does not affect), so EOS gets the only positive logit.
    private static func makeEOSFirst(_ dir: URL) throws {
        let (model, codec, images) = try RunPipeline.loadModel(dir, dataDir: nil)
        model.train(false)
        let head = try #require(model.namedParameters().first { $0.0 == "lm_head.weight" }?.1)
        let (vocab, width) = (head.shape[0], head.shape[1])
        let eos = codec.eosId
        for v in 0..<vocab where v != eos { for j in 0..<width { head.data[v * width + j] = 0 } }
        var cfg = GenerationConfig()
        cfg.maxNewTokens = 1
        cfg.eosTokenId = eos
        let inputs = LlavaInputs(ids: [codec.prompt(CLIFixtures.prompt)], pixels: try images.batch([try image().path]))
        if try Generator(model: model).generate(inputs, cfg)[0] != [eos] {
            for j in 0..<width { head.data[eos * width + j] = -head.data[eos * width + j] }
        }
        try model.save(to: dir, tokenizerJSON: try Data(contentsOf: CheckpointFolder(dir).tokenizerURL),
                       preprocessor: .square(model.config.vision.imageSize))
    }

    static let prompt = "Describe the image."

    /// A 40x30 PNG (not square, so the padding step runs).
    static func image() throws -> URL {
        try once("image") {
            var pixels: [UInt8] = []
            for y in 0..<30 { for x in 0..<40 { pixels += [UInt8(x * 6), UInt8(y * 8), UInt8((x + y) % 256)] } }
            let url = TestPaths.tempDir("cli-image").appendingPathComponent("picture.png")
            try ImageFile.savePNG(try RGBImage(width: 40, height: 30, pixels: pixels), to: url)
            return url
        }
    }
}
