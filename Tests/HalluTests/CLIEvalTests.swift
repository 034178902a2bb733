import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private let chairGT = TestPaths.data("CHAIR-metric-standalone/chair500_gt_objects.json")
private let lessIsMoreR1 = TestPaths.data("less-is-more/Table1-results/r1-llava1.5-7b.jsonl")
private func popeQuestions(_ split: String) -> String { TestPaths.data("POPE/output/coco/coco_pope_\(split).json") }

/// An answers file saying "Yes" to every question of a POPE questions file.
private func allYes(_ questionsPath: String, in dir: URL) throws -> String {
    let lines = try EvalRecords.read(questionsPath).map { _, q in
        String(data: try JSONSerialization.data(withJSONObject: ["question_id": q["question_id"]!, "answer": "Yes"]), encoding: .utf8)!
    }
    let url = dir.appendingPathComponent("yes-\(URL(fileURLWithPath: questionsPath).lastPathComponent)l")
    try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: url)
    return url.path
}

/// Asserts a failed run: exit 1, nothing on stdout, and one "error:" line naming each of `parts`.
private func expectError(_ r: HalluCLI.Result, _ parts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status == 1, "exit \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
    #expect(r.stdout.isEmpty, sourceLocation: sourceLocation)
    let lines = r.stderr.split(separator: "\n")
    #expect(lines.count == 1 && r.stderr.hasPrefix("error: "), "\(r.stderr)", sourceLocation: sourceLocation)
    for p in parts { #expect(r.stderr.contains(p), "\"\(p)\" not in: \(r.stderr)", sourceLocation: sourceLocation) }
}

@Test func cliEvalChairReproducesLessIsMoreTable1() throws {
    let details = TestPaths.tempDir("cli-chair").appendingPathComponent("details.json")
    let r = try HalluCLI.run(["eval", "chair", "--captions", lessIsMoreR1, "--gt", chairGT, "--details", details.path, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let json = try r.object()
    for key in ["CHAIRs", "CHAIRi", "recall", "len", "n"] { #expect(json[key] != nil, "missing \(key)") }
    let chairS = try #require(json["CHAIRs"] as? Double)
    #expect(abs(chairS - 0.504) <= 0.003, "CHAIRs \(chairS)")
    #expect(abs((json["CHAIRi"] as? Double ?? 0) - 0.156) <= 0.003)
    #expect(json["n"] as? Int == 500)
    // Keys come sorted, so scripts can diff outputs.
    let keyOrder = r.stdout.split(separator: "\n").compactMap { line -> String? in
        guard line.hasPrefix("  \""), let end = line.dropFirst(3).firstIndex(of: "\"") else { return nil }
        return String(line[line.index(line.startIndex, offsetBy: 3)..<end])
    }
    #expect(keyOrder == keyOrder.sorted() && keyOrder.count >= 5)
    let perCaption = try #require(try JSONFiles.readJSON(details.path) as? [[String: Any]])
    #expect(perCaption.count == 500 && perCaption[0]["hallucinated"] != nil)

    let table = try HalluCLI.run(["eval", "chair", "--captions", lessIsMoreR1, "--gt", chairGT,
                                  "--caption-key", "text", "--image-id-key", "image_id"])
    #expect(table.status == 0 && table.stdout.contains("CHAIRs") && table.stdout.contains("50.4"))
}

@Test func cliEvalPopeAllYesAnswers() throws {
    let dir = TestPaths.tempDir("cli-pope")
    let random = try allYes(popeQuestions("random"), in: dir)
    let r = try HalluCLI.run(["eval", "pope", "--questions", popeQuestions("random"), "--answers", random, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let m = try r.object()
    #expect(m["accuracy"] as? Double == 0.5 && m["recall"] as? Double == 1 && m["yes_ratio"] as? Double == 1)
    #expect(m["precision"] as? Double == 0.5 && m["n"] as? Int == 3000)
    #expect(abs((m["f1"] as? Double ?? 0) - 2.0 / 3.0) < 1e-12)

    let popular = try allYes(popeQuestions("popular"), in: dir)
    let both = try HalluCLI.run(["eval", "pope", "--split", "random=\(popeQuestions("random")):\(random)",
                                 "--split", "popular=\(popeQuestions("popular")):\(popular)", "--json"])
    #expect(both.status == 0, "\(both.stderr)")
    let report = try both.object()
    #expect(Set(report.keys) == ["random", "popular", "average"])
    #expect((report["average"] as? [String: Any])?["n"] as? Int == 6000)
    #expect((report["popular"] as? [String: Any])?["recall"] as? Double == 1)

    let table = try HalluCLI.run(["eval", "pope", "--questions", popeQuestions("random"), "--answers", random])
    #expect(table.status == 0 && table.stdout.contains("Accuracy") && table.stdout.contains("50.00"))

    expectError(try HalluCLI.run(["eval", "pope", "--split", "random"]), ["--split random", "NAME=QUESTIONS:ANSWERS"])
    expectError(try HalluCLI.run(["eval", "pope", "--split", "random=\(popeQuestions("random")):/no/answers.jsonl"]),
                ["--split random", "/no/answers.jsonl", "no such file"])
    expectError(try HalluCLI.run(["eval", "pope", "--questions", popeQuestions("random"), "--answers", random,
                                  "--split", "random=\(popeQuestions("random")):\(random)"]), ["either"])
}

private func writeSHRInputs(_ dir: URL) throws -> (responses: String, facts: String) {
    let responses = dir.appendingPathComponent("responses.json")
    try AtomicFile.writeJSON(["1": "A small red dog. A green cat. The scene is calm.", "2": "There is a bicycle."], to: responses)
    let facts = dir.appendingPathComponent("facts.jsonl")
    let record = "{\"objects\": [{\"category\": \"dog\", \"colour\": \"red\", \"size\": \"small\"}, "
        + "{\"category\": \"cat\", \"colour\": \"black\", \"size\": \"large\"}], \"relations\": []}"
    try AtomicFile.write("{\"image_id\": 1, " + record.dropFirst() + "\n{\"image_id\": 2, " + record.dropFirst() + "\n", to: facts)
    return (responses.path, facts.path)
}

@Test func cliEvalShrWithTheGroundTruthJudge() throws {
    let dir = TestPaths.tempDir("cli-shr")
    let (responses, facts) = try writeSHRInputs(dir)
    let details = dir.appendingPathComponent("details.json")
    let r = try HalluCLI.run(["eval", "shr", "--responses", responses, "--facts", facts, "--details", details.path, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let json = try r.object()
    // Green cat and bicycle are hallucinated; the calm scene and the red dog are not.
    #expect(json["sentences"] as? Int == 4 && json["hallucinated"] as? Int == 2 && json["shr"] as? Double == 0.5)
    #expect((try JSONFiles.readJSON(details.path) as? [Any])?.count == 2)
    let table = try HalluCLI.run(["eval", "shr", "--responses", responses, "--facts", facts, "--judge", "gt"])
    #expect(table.status == 0 && table.stdout.contains("SHR") && table.stdout.contains("50.0"))

    expectError(try HalluCLI.run(["eval", "shr", "--responses", responses, "--facts", facts, "--judge", "chat"]),
                ["--judge-url is required"])
    expectError(try HalluCLI.run(["eval", "shr", "--responses", responses, "--facts", facts, "--judge-url", "http://x"]),
                ["--judge-url", "--judge chat"])
    expectError(try HalluCLI.run(["eval", "shr", "--responses", responses, "--facts", facts, "--judge", "gpt"]),
                ["--judge gpt", "gt or chat"])
}

@Test func cliEvalShrWithAChatJudge() throws {
    let dir = TestPaths.tempDir("cli-shr-chat")
    let (responses, facts) = try writeSHRInputs(dir)
    let server = try StubHTTPServer { request in
        let body = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any]
        let content = ((body?["messages"] as? [[String: Any]])?.first?["content"] as? String) ?? ""
        // Every sentence is correct except those naming a bicycle.
        let numbered = content.components(separatedBy: "\n").filter {
            $0.range(of: #"^\d+\. "#, options: .regularExpression) != nil && !$0.contains("<reason>") && !$0.hasPrefix("2. ...")
        }
        let verdicts = numbered.enumerated().map { i, line in
            "\(i + 1). " + (line.contains("bicycle") ? "hallucination: no bicycle" : "correct: fine")
        }
        return (200, StubHTTPServer.chatReply("Judgement:\n" + verdicts.joined(separator: "\n")))
    }
    defer { server.stop() }
    let r = try HalluCLI.run(["eval", "shr", "--responses", responses, "--facts", facts, "--judge", "chat",
                              "--judge-url", server.url.absoluteString, "--judge-model", "stub",
                              "--judge-key-env", "HALLU_CLI_TEST_KEY", "--json"],
                             environment: ["HALLU_CLI_TEST_KEY": "sk-cli-test"])
    #expect(r.status == 0, "\(r.stderr)")
    let json = try r.object()
    #expect(json["sentences"] as? Int == 4 && json["hallucinated"] as? Int == 1)
    #expect(json["judge"] as? String == "chat:stub")
    #expect(server.requests.allSatisfy { $0.headers["authorization"] == "Bearer sk-cli-test" })

    expectError(try HalluCLI.run(["eval", "shr", "--responses", responses, "--facts", facts, "--judge", "chat",
                                  "--judge-url", server.url.absoluteString, "--judge-model", "stub",
                                  "--judge-key-env", "HALLU_CLI_UNSET_VARIABLE"]), ["HALLU_CLI_UNSET_VARIABLE"])
}

@Test func cliEvalBadInputGivesOneLineErrors() throws {
    let dir = TestPaths.tempDir("cli-eval-bad")
    expectError(try HalluCLI.run(["eval", "chair", "--captions", "/no/such/captions.jsonl", "--gt", chairGT]),
                ["--captions", "/no/such/captions.jsonl", "no such file"])
    expectError(try HalluCLI.run(["eval", "chair", "--captions", lessIsMoreR1]), ["--gt is required"])
    expectError(try HalluCLI.run(["eval", "chair", "--captoins", lessIsMoreR1, "--gt", chairGT]), ["--captoins", "did you mean --captions?"])
    expectError(try HalluCLI.run(["eval", "chiar"]), ["unknown subcommand \"chiar\"", "Did you mean \"chair\"?"])
    expectError(try HalluCLI.run(["eval"]), ["chair, pope, shr, model"])
    expectError(try HalluCLI.run(["eval", "pope", "--gt", chairGT]), ["hallu eval pope", "--gt does not apply"])
    expectError(try HalluCLI.run(["eval", "chair", "extra", "--captions", lessIsMoreR1, "--gt", chairGT]), ["unexpected argument \"extra\""])
    // A malformed record is reported with its file and line.
    let broken = dir.appendingPathComponent("broken.jsonl")
    try AtomicFile.write("{\"image_id\": 1, \"text\": \"A dog.\"}\n{\"image_id\": 2}\n", to: broken)
    expectError(try HalluCLI.run(["eval", "chair", "--captions", broken.path, "--gt", chairGT, "--caption-key", "text"]),
                ["broken.jsonl:2", "text"])
    let truncated = dir.appendingPathComponent("answers.jsonl")
    try AtomicFile.write("{\"question_id\": 1, \"answer\": \"Yes\"}\n", to: truncated)
    expectError(try HalluCLI.run(["eval", "pope", "--questions", popeQuestions("random"), "--answers", truncated.path]),
                ["answers.jsonl"])
    let help = try HalluCLI.run(["eval", "chair", "--help"])
    #expect(help.status == 0 && help.stdout.contains("--captions FILE") && help.stdout.contains("(default: gt)"))
}

@Test func cliEvalModelScoresACheckpointOnADataFolder() throws {
    let world = try CLIFixtures.world(), model = try CLIFixtures.checkpoint()
    let out = TestPaths.tempDir("cli-eval-model").appendingPathComponent("eval")
    let r = try HalluCLI.run(["eval", "model", "--model", model.path, "--data", world.path, "--images", "2",
                              "--max-new-tokens", "3", "--out", out.path, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let json = try r.object()
    let chair = try #require(json["chair"] as? [String: Any])
    #expect(chair["n"] as? Int == 2 && chair["CHAIRs"] != nil)
    let pope = try #require(json["pope"] as? [String: Any])
    for split in ["random", "popular", "adversarial"] {
        let m = try #require(pope[split] as? [String: Any], "missing POPE \(split)")
        #expect((m["n"] as? Int ?? 0) > 0 && m["accuracy"] != nil)
    }
    let shr = try #require(json["shr"] as? [String: Any])
    #expect(shr["shr"] != nil && shr["sentences"] != nil && shr["hallucinated"] != nil)
    // The same numbers are on disk, next to the generations they come from.
    let saved = try #require(try JSONFiles.readJSON(out.appendingPathComponent("metrics.json").path) as? [String: Any])
    #expect((saved["chair"] as? [String: Any])?["CHAIRs"] as? Double == chair["CHAIRs"] as? Double)
    #expect(try JSONFiles.readJSONLines(out.appendingPathComponent("chair_captions.jsonl").path).count == 2)
    #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("pope_adversarial_answers.jsonl").path))

    expectError(try HalluCLI.run(["eval", "model", "--model", "/no/model", "--data", world.path]), ["--model", "/no/model"])
    let empty = TestPaths.tempDir("cli-eval-empty")
    expectError(try HalluCLI.run(["eval", "model", "--model", model.path, "--data", empty.path]),
                [empty.path, "chair_prompts.jsonl", "--data"])
    expectError(try HalluCLI.run(["eval", "model", "--model", model.path, "--data", world.path, "--images", "0"]),
                ["--images", "at least 1"])

    // Without --out, the folder is ./eval-<name>, named after the run when the checkpoint is a run's model folder.
    let cwd = TestPaths.tempDir("cli-eval-cwd")
    let table = try HalluCLI.run(["eval", "model", "--model", model.path, "--data", world.path, "--images", "1",
                                  "--max-new-tokens", "2"], cwd: cwd)
    #expect(table.status == 0, "\(table.stderr)")
    #expect(table.stdout.contains("CHAIR (1 captions)") && table.stdout.contains("POPE") && table.stdout.contains("SHR"))
    let expected = cwd.appendingPathComponent("eval-" + model.deletingLastPathComponent().lastPathComponent)
    #expect(FileManager.default.fileExists(atPath: expected.appendingPathComponent("metrics.json").path))
}

/// A plugin's evaluator is a `hallu eval` subcommand with its own flags, found like its methods
/// (the HSA-DPO plugin beside hallu brings `severity`).
@Test func pluginEvaluatorsAreEvalSubcommands() throws {
    let help = try HalluCLI.run(["eval", "--help"])
    #expect(help.status == 0 && help.stdout.contains("severity") && help.stdout.contains("--responses"), "\(help.stdout)")
    let world = try CLIFixtures.world()
    let prompts = try DataReaders.chairPrompts(world.appendingPathComponent("chair_prompts.jsonl").path)
    let dir = TestPaths.tempDir("cli-severity")
    let responses = try write(prompts.map { #"{"image": "\#($0.image)", "text": "There is a giraffe in the image. It is purple."}"# }
        .joined(separator: "\n") + "\n", "responses.jsonl", in: dir)
    let r = try HalluCLI.run(["eval", "severity", "--responses", responses, "--world", world.path, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let report = try r.object()
    #expect(report["descriptions"] as? Int == prompts.count && (report["severity"] as? Double ?? 0) > 0)
    let text = try HalluCLI.run(["eval", "severity", "--responses", responses, "--world", world.path])
    #expect(text.status == 0 && text.stdout.contains("severity/description"))
    let typo = try HalluCLI.run(["eval", "severty", "--responses", responses])
    #expect(typo.status == 1 && typo.stderr.contains("Did you mean \"severity\"?"), "\(typo.stderr)")
}
