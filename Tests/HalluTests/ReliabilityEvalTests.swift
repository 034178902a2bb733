import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

// Evaluations that score nothing fail with a clear error; a model that generates nothing is
// reported as such; a LoRA adapter's rsLoRA scaling is applied as PEFT applies it.

@Test func chairWithNoMatchingGroundTruthIdsIsAnError() throws {
    let dir = TestPaths.tempDir("chair-ids")
    let captions = dir.appendingPathComponent("caps.jsonl"), gt = dir.appendingPathComponent("gt.json")
    try Data(#"{"image_id": 1, "caption": "A dog on a couch."}"#.utf8 + [0x0A] + Array(#"{"image_id": 2, "caption": "A cat."}"#.utf8)).write(to: captions)
    try Data(#"{"77": ["dog"], "78": ["cat"]}"#.utf8).write(to: gt)
    // It used to print CHAIRs 1.0 and exit 0.
    expectCheckpointError(["caps.jsonl", "none of the 2 captions' image ids is in", "gt.json", "--image-id-key"]) {
        _ = try CHAIREval.run(captionsPath: captions.path, gtPath: gt.path)
    }
    try Data(#"{"1": ["dog"], "78": ["cat"]}"#.utf8).write(to: gt)
    let r = try CHAIREval.run(captionsPath: captions.path, gtPath: gt.path)
    #expect(r.n == 2 && r.unknownImages == 1)
}

@Test func chatJudgeThatNeverAnswersInFormatScoresNothing() throws {
    let server = try StubHTTPServer { _ in (200, StubHTTPServer.chatReply("I think the description is fine.")) }
    defer { server.stop() }
    let judge = try ChatSentenceJudge(config: ChatJudgeConfig(url: server.url, model: "m", retries: 0))
    let images = [SHRImage(id: "1", response: "A dog sits on a couch. It is red.")]
    // It used to give SHR 0.0 (a perfect score) and exit 0.
    expectCheckpointError(["judge chat:m gave no usable verdict for any of the 2 sentences"]) {
        _ = try SHREvaluator(judge: judge).evaluate(images: images)
    }
}

@Test func popeWithOnlyEmptyAnswersIsAnError() throws {
    let dir = TestPaths.tempDir("pope-empty")
    let q = dir.appendingPathComponent("q.jsonl"), a = dir.appendingPathComponent("a.jsonl")
    try Data(#"{"question_id": 1, "text": "Is there a dog in the image?", "label": "yes"}"#.utf8).write(to: q)
    try Data(#"{"question_id": 1, "answer": ""}"#.utf8).write(to: a)
    expectCheckpointError(["a.jsonl", "all 1 answers are empty"]) { _ = try POPEEval.run(questionsPath: q.path, answersPath: a.path) }
}

@Test func nonFiniteCheckpointIsRefusedByTheCLI() throws {
    let dir = TestPaths.tempDir("nan-cli").appendingPathComponent("model")
    try FileManager.default.copyItem(at: try CLIFixtures.checkpoint(), to: dir)
    let weights = dir.appendingPathComponent("model.safetensors")
    var arrays = try SafeTensors.read(weights.path)
    for k in arrays.keys { arrays[k]!.values = arrays[k]!.values.map { _ in .nan } }
    try SafeTensors.write(arrays, to: weights, metadata: ["format": "pt"])
    let args = ["generate", "--model", dir.path, "--image", try CLIFixtures.image().path, "--prompt", CLIFixtures.prompt]
    let r = try HalluCLI.run(args)
    #expect(r.status == 1 && r.stderr.contains("NaN or infinite") && r.stderr.contains("--allow-nonfinite-weights"), "\(r.stderr)")
    let forced = try HalluCLI.run(args + ["--allow-nonfinite-weights"])
    #expect(forced.status == 0 && forced.stderr.contains("warning:"), "\(forced.stderr)")
}

@Test func aModelThatGeneratesNothingIsReportedAsSuch() throws {
    let out = TestPaths.tempDir("empty-eval")
    let r = try HalluCLI.run(["eval", "model", "--model", try CLIFixtures.checkpoint(eosFirst: true).path, "--data", try CLIFixtures.world().path,
                              "--out", out.path, "--max-new-tokens", "8"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("warning: the model generated nothing (an empty answer) for all"), "\(r.stdout)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("metrics.json"))) as? [String: Any])
    let n = try #require(json["generations"] as? Int)
    #expect(n > 0 && json["empty_generations"] as? Int == n)
}

@Test func rsLoRAScalingMatchesPEFT() throws {
    // Golden from scripts/gen_rslora_golden.py: PEFT with use_rslora scales B·A by alpha / sqrt(r).
    let fixture = TestPaths.fixtures.appendingPathComponent("checkpoint")
    let golden = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: fixture.appendingPathComponent("rslora_logits.json"))) as? [String: Any])
    let ids = golden["ids"] as! [Int]
    let want = (golden["logits"] as! [[Double]]).flatMap { $0.map(Float.init) }
    let base = (golden["base_logits"] as! [[Double]]).flatMap { $0.map(Float.init) }
    func logits(_ adapter: LoRAAdapter?) throws -> [Float] {
        let model = try LlavaModel.load(fixture.appendingPathComponent("micro_llava"))
        if let adapter { try model.loadAdapter(adapter, file: "adapter_rslora") }
        model.train(false)
        let (h, _) = try withNoGrad { try model.hidden(LlavaInputs(ids: [ids], pixels: nil)) }
        return try withNoGrad { try model.languageModel.logits(h) }.values
    }
    var adapter = try LoRAAdapter.load(from: fixture.appendingPathComponent("adapter_rslora"))
    #expect(adapter.config.useRslora && adapter.config.scaling == golden["scaling"] as? Double)
    func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }
    let got = try logits(adapter)
    #expect(got.count == want.count)
    #expect(maxDiff(got, want) <= 1e-4, "rsLoRA logits differ from PEFT's by \(maxDiff(got, want))")
    #expect(maxDiff(try logits(nil), base) <= 1e-4)
    // The same adapter read as plain LoRA (alpha / r) gives other logits: the flag is not ignored.
    adapter.config.useRslora = false
    #expect(maxDiff(try logits(adapter), want) > 1e-3)
}
