import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private func expectFailure(_ r: HalluCLI.Result, _ parts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status != 0, sourceLocation: sourceLocation)
    #expect(r.stderr.hasPrefix("error: ") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
    for p in parts { #expect(r.stderr.contains(p), "\"\(p)\" not in: \(r.stderr)", sourceLocation: sourceLocation) }
}

@Test func cliDataSynthStatsAndShow() throws {
    let root = TestPaths.tempDir("cli-data")
    let world = root.appendingPathComponent("world")
    let synth = try HalluCLI.run(["data", "synth", "--out", world.path, "--seed", "7",
                                  "--set", "train_images=6", "--set", "eval_images=3", "--json"])
    #expect(synth.status == 0, "\(synth.stderr)")
    let summary = try synth.object()
    #expect(summary["trainImages"] as? Int == 6 && summary["evalImages"] as? Int == 3)
    // The plugins beside hallu add their training files (their world exports), world.json last.
    let files = summary["files"] as? [String] ?? []
    #expect(["hsa_dpo_preference.jsonl", "hsa_dpo_detection.jsonl", "desc_data.json", "pope_data.json", "hacl.json"].allSatisfy(files.contains), "\(files)")
    #expect(files.last == "world.json")
    let config = try WorldConfig.load(world.appendingPathComponent("world.json").path)
    #expect(config.seed == 7 && config.trainImages == 6 && config.evalImages == 3)

    let stats = try HalluCLI.run(["data", "stats", world.path, "--json"])
    #expect(stats.status == 0, "\(stats.stderr)")
    let s = try stats.object()
    #expect(s["trainImages"] as? Int == 6 && s["evalImages"] as? Int == 3)
    let objectsPerImage = try #require(s["objectsPerImage"] as? [String: Int])
    #expect(objectsPerImage.values.reduce(0, +) == 9)
    let topLevel = stats.stdout.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { String($0.dropFirst(3).prefix { $0 != "\"" }) }
    #expect(topLevel == topLevel.sorted() && topLevel.contains("popeQuestions"))
    let text = try HalluCLI.run(["data", "stats", world.path])
    #expect(text.status == 0 && text.stdout.hasPrefix("images: 6 train, 3 eval"))

    let sheet = root.appendingPathComponent("sheet.png")
    let show = try HalluCLI.run(["data", "show", world.path, "4", "--out", sheet.path, "--columns", "2"])
    #expect(show.status == 0, "\(show.stderr)")
    #expect(show.stdout.contains(sheet.path))
    let square = try ImageFile.load(sheet.path)
    let wide = root.appendingPathComponent("wide.png")
    #expect(try HalluCLI.run(["data", "show", world.path, "4", "--out", wide.path]).status == 0)
    let row = try ImageFile.load(wide.path)
    // Four images scaled 6x: two rows of two, or one row of four.
    #expect(square.width >= 2 * 32 * 6 && row.width == 2 * square.width && square.height == 2 * row.height)

    // The same seed gives the same world, byte for byte.
    let again = root.appendingPathComponent("again")
    let synth2 = try HalluCLI.run(["data", "synth", "--out", again.path, "--seed", "7", "--set", "train_images=6", "--set", "eval_images=3"])
    #expect(synth2.status == 0 && synth2.stdout.contains("6 train and 3 eval images"))
    for file in ["scenes.jsonl", "llava_train.json", "pope_random.jsonl", "world.json"] {
        #expect(try Data(contentsOf: world.appendingPathComponent(file)) == Data(contentsOf: again.appendingPathComponent(file)), "\(file)")
    }

    // A config file, then --set on top of it.
    let cfgFile = root.appendingPathComponent("world.json")
    try AtomicFile.write("{\"train_images\": 2, \"eval_images\": 2, \"seed\": 1}", to: cfgFile)
    let fromFile = root.appendingPathComponent("from-file")
    let synth3 = try HalluCLI.run(["data", "synth", "--out", fromFile.path, "--config", cfgFile.path, "--set", "eval_images=1"])
    #expect(synth3.status == 0, "\(synth3.stderr)")
    let cfg3 = try WorldConfig.load(fromFile.appendingPathComponent("world.json").path)
    #expect(cfg3.trainImages == 2 && cfg3.evalImages == 1 && cfg3.seed == 1)
}

@Test func cliDataBadInputGivesOneLineErrors() throws {
    let root = TestPaths.tempDir("cli-data-bad")
    let out = root.appendingPathComponent("w").path
    expectFailure(try HalluCLI.run(["data", "synth", "--out", out, "--set", "train_imges=5"]),
                  ["train_imges", "did you mean train_images?"])
    expectFailure(try HalluCLI.run(["data", "synth", "--out", out, "--set", "eval_images=0"]), ["--set eval_images", "eval image"])
    expectFailure(try HalluCLI.run(["data", "synth", "--out", out, "--set", "noequals"]), ["--set noequals", "KEY=VALUE"])
    expectFailure(try HalluCLI.run(["data", "synth", "--out", out, "--seed", "-3"]), ["--seed"])
    expectFailure(try HalluCLI.run(["data", "synth", "--out", out, "--config", "/no/world.json"]), ["/no/world.json", "no such file"])
    expectFailure(try HalluCLI.run(["data", "synth"]), ["--out is required"])
    expectFailure(try HalluCLI.run(["data", "stats", "/no/such/world"]), ["/no/such/world", "no such folder"])
    expectFailure(try HalluCLI.run(["data", "stats", root.path]), [root.path, "world.json", "hallu data synth"])
    expectFailure(try HalluCLI.run(["data", "stats"]), ["missing DIR"])
    expectFailure(try HalluCLI.run(["data", "shwo", root.path]), ["Did you mean \"show\"?"])
    expectFailure(try HalluCLI.run(["data", "show", root.path, "many", "--out", "x.png"]), ["N must be a positive integer", "many"])
    expectFailure(try HalluCLI.run(["data", "show", root.path, "2", "--out", "x.jpg"]), ["--out x.jpg", ".png"])
    expectFailure(try HalluCLI.run(["data", "stats", root.path, "--seed", "1"]), ["--seed does not apply"])
    expectFailure(try HalluCLI.run(["data", "stats", root.path, "--jsno"]), ["did you mean --json?"])
}
