import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
#if canImport(Glibc)
import Glibc
#endif

// Run settings, flags, paths and resume: each out-of-range value is refused where it is parsed,
// naming the key; names stay inside their folders; a resumed run continues exactly.

private func runArgs(_ runs: URL, name: String = "x") throws -> [String] {
    ["run", "--method", "sft", "--base", try CLIFixtures.checkpoint().path, "--data", try CLIFixtures.world().path,
     "--runs-dir", runs.path, "--name", name, "--steps", "2", "--skip-eval"]
}

@Test func runSettingsOutOfRangeAreRefusedNamingTheKey() throws {
    let cases: [([String], [String])] = [
        (["--steps", "-1"], ["--steps", "at least 1, got -1"]),
        (["--set", "batch_size=0"], ["--set batch_size=0", "batch_size: must be at least 1, got 0"]),
        (["--set", "grad_accum=0"], ["grad_accum: must be from 1 to 65536, got 0"]),
        (["--lora", "--set", "lora_r=-4"], ["lora_r: must be at least 1, got -4"]),
        (["--lora", "--set", "lora_r=0"], ["lora_r: must be at least 1, got 0"]),
        (["--set", "lora_r=100000"], ["lora_r", "limit of 4096", "HALLU_MAX_LORA_RANK"]),
        (["--set", "batch_size=100000"], ["batch_size", "HALLU_MAX_BATCH_SIZE"]),
        (["--set", "warmup_ratio=2"], ["warmup_ratio: must be in [0, 1], got 2.0"]),
        (["--set", "schedule=bogus"], ["schedule: \"bogus\" is not one of cosine, linear, constant"]),
        (["--threads", "0"], ["--threads: must be from 1 to 256, got 0"]),
        (["--set", "weight.bogus=1"], ["weight.bogus: this run has no method \"bogus\""]),
        (["--set", "hsadpo.beta=0.2"], ["hsadpo.beta: this run has no method \"hsadpo\""]),
        (["--seed", "-1"], ["--seed: expected a whole number from 0 to 18446744073709551615, got \"-1\""]),
        (["--eval-images", "-5"], ["--eval-images: must be at least 1, got -5"]),
        (["--set", "lr=nan"], ["--set lr: expected a finite number, got \"nan\""]),
        (["--set", "steps=1e300"], ["steps: expected a whole number"]),
        (["--epochs", "nan"], ["--epochs: must be a number above 0"]),
        (["--set", "clip=-1"], ["clip: must be at least 0"]),
    ]
    let runs = TestPaths.tempDir("ranges")
    for (flags, fragments) in cases {
        let r = try HalluCLI.run(try runArgs(runs) + flags)
        #expect(r.status == 1, "\(flags): exit \(r.status)")
        for f in fragments { #expect(r.stderr.contains(f), "\(flags): \(r.stderr)") }
        #expect(!r.stderr.contains("Error Domain"), "\(flags): \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: runs.appendingPathComponent("x/metrics.jsonl").path), "\(flags) trained")
    }
}

@Test func methodOptionBoundsNameTheOptionAndTheInterval() throws {
    let o = OptionValues(method: "m", values: ["a": "0.5", "b": "2", "c": "nan", "d": "1e39", "e": "-inf", "n": "7", "x": "fast"])
    func message(_ f: () throws -> Any) -> String {
        do { _ = try f(); return "no error" } catch { return "\(error)" }
    }
    #expect(try o.double("a", above: 0, atMost: 1) == 0.5)
    #expect(try o.float("b", atLeast: 2) == 2)
    #expect(try o.int("n", in: 0...7) == 7)
    #expect(message { try o.float("b", above: 0, atMost: 1) } == "m.b: must be a finite number in (0, 1], got 2")
    #expect(message { try o.double("a", atLeast: 1, below: 1.5) } == "m.a: must be a finite number in [1, 1.5), got 0.5")
    #expect(message { try o.double("c", atLeast: 0) } == "m.c: must be a finite number >= 0, got nan")
    #expect(message { try o.double("e") } == "no error")
    #expect(message { try o.double("e", atMost: 0) } == "m.e: must be a finite number <= 0, got -inf")
    #expect(message { try o.double("a", above: 1) } == "m.a: must be a finite number above 1, got 0.5")
    #expect(message { try o.double("b", below: 1) } == "m.b: must be a finite number below 1, got 2")
    #expect(message { try o.float("d", atLeast: 0) } == "m.d: 1e39 is too large")
    #expect(message { try o.int("n", in: 0...6) } == "m.n: must be an integer in [0, 6], got 7")
    #expect(message { try o.int("n", in: 8...Int.max) } == "m.n: must be an integer >= 8, got 7")
    #expect(message { try o.int("a", in: 0...1) }.contains("m.a: expected an integer"))
    #expect(message { try o.double("x", atLeast: 0) }.contains("m.x: expected a number"))
}

@Test func configFileValuesAreRangeCheckedNamingFileAndKey() throws {
    let dir = TestPaths.tempDir("runcfg")
    func load(_ json: String) throws -> RunConfig {
        let url = dir.appendingPathComponent("run.json")
        try Data(json.utf8).write(to: url)
        return try RunConfig.load(url.path)
    }
    expectCheckpointError(["run.json", "batch_size: must be at least 1, got 0"]) { _ = try load(#"{"batch_size": 0}"#) }
    expectCheckpointError(["run.json", "seed: must be a whole number from 0"]) { _ = try load(#"{"seed": -1}"#) }
    expectCheckpointError(["run.json", "steps: expected a whole number, got 2.5"]) { _ = try load(#"{"steps": 2.5}"#) }
    expectCheckpointError(["run.json", "lr: expected a number"]) { _ = try load(#"{"lr": "fast"}"#) }
    #expect(try load(#"{"seed": 18446744073709551615}"#).seed == UInt64.max)
    #expect(try load(#"{"steps": 3.0}"#).steps == 3)
    var c = RunConfig()
    try c.set("seed=18446744073709551615")
    #expect(c.seed == UInt64.max)
}

@Test func runNameMustStayInsideTheRunsFolder() throws {
    let root = TestPaths.tempDir("names"), runs = root.appendingPathComponent("a/runs")
    let r = try HalluCLI.run(try runArgs(runs, name: "../../x"))
    #expect(r.status == 1)
    #expect(r.stderr.contains("--name") && r.stderr.contains("\"../../x\" leaves the folder") && r.stderr.contains("--allow-outside"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("x").path))
    let abs = try HalluCLI.run(try runArgs(runs, name: root.appendingPathComponent("y").path))
    #expect(abs.status == 1 && abs.stderr.contains("is an absolute path"), "\(abs.stderr)")
    // Allowed explicitly.
    let ok = try HalluCLI.run(try runArgs(runs, name: "../outside") + ["--allow-outside"])
    #expect(ok.status == 0, "\(ok.stderr)")
    #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("a/outside/metrics.jsonl").path))
}

@Test func datasetImagePathsStayInsideTheDataFolder() throws {
    let world = try CLIFixtures.world()
    let outside = TestPaths.tempDir("outside").appendingPathComponent("secret.png")
    try ImageFile.savePNG(RGBImage(width: 4, height: 4), to: outside)
    let records = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: world.appendingPathComponent("llava_train.json"))) as? [[String: Any]])
    func folder(_ image: String) throws -> URL {
        let dir = TestPaths.tempDir("imgpaths")
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("images"), withDestinationURL: world.appendingPathComponent("images"))
        var r = records
        r[1]["image"] = image
        try JSONSerialization.data(withJSONObject: r).write(to: dir.appendingPathComponent("llava_train.json"))
        return dir
    }
    let absolute = try folder(outside.path)
    expectCheckpointError(["llava_train.json", "item 2", "is an absolute path", "--allow-outside"]) { _ = try Dataset.load(absolute.path) }
    let climbing = try folder("../" + outside.deletingLastPathComponent().lastPathComponent + "/secret.png")
    expectCheckpointError(["llava_train.json", "item 2", "leaves the folder"]) { _ = try Dataset.load(climbing.path) }
    #expect(try Dataset.load(absolute.path, allowOutside: true).conversations[1].image == outside.path)
    // A folder where an image should be is a clear error, not Foundation's "error 256".
    let dirImage = try folder("images")
    expectCheckpointError(["llava_train.json", "item 2", "is a folder, not an image file"]) { _ = try Dataset.load(dirImage.path) }
    // The loader that feeds the model keeps to the folder too.
    let load = ImagePipeline.loader(size: 32, processor: nil, root: world)
    expectCheckpointError(["image", "leaves the folder"]) { _ = try load("../x.png") }
}

@Test func resumeOfARunThatDoesNotExistIsRefused() throws {
    let runs = TestPaths.tempDir("resume-missing")
    let r = try HalluCLI.run(try runArgs(runs, name: "nothere") + ["--resume"])
    #expect(r.status == 1)
    #expect(r.stderr.contains("no run to resume here") && r.stderr.contains("nothere"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: runs.appendingPathComponent("nothere/metrics.jsonl").path))
}

@Test func metricsLogIsCutBackToTheCheckpointAndLosesItsTornLine() throws {
    let url = TestPaths.tempDir("metrics").appendingPathComponent("metrics.jsonl")
    let lines = (1...5).map { #"{"loss":0.\#($0),"step":\#($0)}"# }
    try Data((lines.joined(separator: "\n") + "\n" + #"{"loss":0.4,"st"#).utf8).write(to: url)
    try MetricsLog.cut(url, throughStep: 3)
    #expect(try String(contentsOf: url, encoding: .utf8) == lines.prefix(3).joined(separator: "\n") + "\n")
    let before = try Data(contentsOf: url)
    try MetricsLog.cut(url, throughStep: 3)
    #expect(try Data(contentsOf: url) == before)
}

@Test func aResumedRunEndsAsAnUninterruptedOne() throws {
    // A run that was killed after step 5 with a checkpoint at step 4: its log holds step 5 and a
    // torn line, and step-6's checkpoint was never written. Resumed, it must end byte-identical.
    let runs = TestPaths.tempDir("resume")
    var args = try runArgs(runs, name: "straight")
    args[args.firstIndex(of: "--steps")! + 1] = "6"
    args += ["--set", "save_every=2", "--set", "keep_last=3", "--seed", "5"]
    let a = try HalluCLI.run(args)
    #expect(a.status == 0, "\(a.stderr)")
    let straight = runs.appendingPathComponent("straight"), killed = runs.appendingPathComponent("killed")
    try FileManager.default.copyItem(at: straight, to: killed)
    for gone in ["summary.json", "report.html", "model", "checkpoint/step-6"] { try? FileManager.default.removeItem(at: killed.appendingPathComponent(gone)) }
    let metrics = try String(contentsOf: straight.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
    let firstFive = metrics.split(separator: "\n").prefix(5).joined(separator: "\n") + "\n"
    try Data((firstFive + #"{"grad_norm":1.2,"lo"#).utf8).write(to: killed.appendingPathComponent("metrics.jsonl"))
    var resumeArgs = args
    resumeArgs[resumeArgs.firstIndex(of: "straight")!] = "killed"
    let b = try HalluCLI.run(resumeArgs + ["--resume"])
    #expect(b.status == 0, "\(b.stderr)")
    #expect(try Data(contentsOf: killed.appendingPathComponent("metrics.jsonl")) == Data(metrics.utf8))
    #expect(try Data(contentsOf: killed.appendingPathComponent("model/model.safetensors"))
            == Data(contentsOf: straight.appendingPathComponent("model/model.safetensors")))

    // A trainer state whose step is beyond the run's length is not trusted.
    let state = killed.appendingPathComponent("checkpoint/step-6/trainer_state.json")
    var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: state)) as? [String: Any])
    json["step"] = 999
    try JSONSerialization.data(withJSONObject: json).write(to: state)
    let c = try HalluCLI.run(resumeArgs + ["--resume"])
    #expect(c.status == 1)
    #expect(c.stderr.contains("trainer_state.json") && c.stderr.contains("step 999 is beyond this run's 6 steps"), "\(c.stderr)")
}

@Test func generationLimitsNameTheirSetting() throws {
    let base = ["generate", "--model", try CLIFixtures.checkpoint().path, "--image", try CLIFixtures.image().path, "--prompt", CLIFixtures.prompt]
    let beams = try HalluCLI.run(base + ["--num-beams", "1000"])
    #expect(beams.status == 1 && beams.stderr.contains("--num-beams: 1000 is above the limit of 64 beams (set HALLU_MAX_BEAMS to raise it)"), "\(beams.stderr)")
    let long = try HalluCLI.run(base + ["--max-new-tokens", "20000"])
    #expect(long.status == 1 && long.stderr.contains("max_position_embeddings"), "\(long.stderr)")
}

@Test func aCPUWithoutAVX2IsRefusedAtStartUp() throws {
    #if arch(x86_64)
    let info = TestPaths.tempDir("cpu").appendingPathComponent("cpuinfo")
    try Data("processor\t: 0\nmodel name\t: Old CPU\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx\n".utf8).write(to: info)
    let r = try HalluCLI.run(["doctor"], environment: ["HALLU_CPUINFO": info.path])
    if r.stderr.contains("HALLU_TARGET_CPU=x86-64") {
        #expect(r.status == 3)
        #expect(r.stderr.contains("Old CPU does not have") && r.stderr.contains("missing: avx2, fma"), "\(r.stderr)")
    } else {
        // A baseline build (HALLU_TARGET_CPU=x86-64) needs no AVX2 and runs.
        #expect(r.status == 0, "\(r.stderr)")
    }
    #endif
}
