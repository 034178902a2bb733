import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// What the library generates for the fixture prompt and image with these settings.
private func libraryIds(_ checkpoint: URL, _ edit: (inout GenerationConfig) -> Void) throws -> (prompt: [Int], ids: [Int], codec: PromptCodec) {
    let (model, codec, images) = try RunPipeline.loadModel(checkpoint, dataDir: nil)
    model.train(false)
    var cfg = GenerationConfig()
    cfg.eosTokenId = codec.eosId
    edit(&cfg)
    let prompt = codec.prompt(CLIFixtures.prompt)
    let inputs = LlavaInputs(ids: [prompt], pixels: try images.batch([try CLIFixtures.image().path]))
    return (prompt, try Generator(model: model).generate(inputs, cfg)[0], codec)
}

private func generate(_ checkpoint: URL, _ extra: [String]) throws -> (ids: [Int], promptIds: [Int], text: String) {
    let r = try HalluCLI.run(["generate", "--model", checkpoint.path, "--image", try CLIFixtures.image().path,
                              "--prompt", CLIFixtures.prompt, "--json"] + extra)
    #expect(r.status == 0, "\(r.stderr)")
    let json = try r.object()
    #expect(Set(json.keys) == ["prompt_ids", "ids", "text"])
    return (try #require(json["ids"] as? [Int]), try #require(json["prompt_ids"] as? [Int]), try #require(json["text"] as? String))
}

@Test func cliGenerateGreedyMatchesTheLibrary() throws {
    let checkpoint = try CLIFixtures.checkpoint()
    let expected = try libraryIds(checkpoint) { $0.maxNewTokens = 12 }
    let out = try generate(checkpoint, ["--max-new-tokens", "12"])
    #expect(out.ids == expected.ids && !out.ids.isEmpty)
    // The whole prompt as the model sees it: BOS first, the image placeholder once.
    #expect(out.promptIds == expected.prompt)
    #expect(out.promptIds.first == TestText.tokenizer.bosId)
    #expect(out.promptIds.filter { $0 == tinyConfig().imageTokenIndex }.count == 1)
    #expect(out.text == expected.codec.tokenizer.decode(expected.ids.filter { $0 != expected.codec.eosId })
        .trimmingCharacters(in: .whitespacesAndNewlines))

    let plain = try HalluCLI.run(["generate", "--model", checkpoint.path, "--image", try CLIFixtures.image().path,
                                  "--prompt", CLIFixtures.prompt, "--max-new-tokens", "12"])
    #expect(plain.status == 0 && plain.stdout == out.text + "\n")
}

@Test func cliGenerateBeamSearchAndSamplingMatchTheLibrary() throws {
    let checkpoint = try CLIFixtures.checkpoint()
    let beam = try libraryIds(checkpoint) { $0.maxNewTokens = 8; $0.numBeams = 3; $0.lengthPenalty = 0.5 }
    #expect(try generate(checkpoint, ["--max-new-tokens", "8", "--num-beams", "3", "--length-penalty", "0.5"]).ids == beam.ids)
    let sampled = try libraryIds(checkpoint) { $0.maxNewTokens = 8; $0.temperature = 1.5; $0.topP = 0.9; $0.topK = 20; $0.seed = 42 }
    let args = ["--max-new-tokens", "8", "--temperature", "1.5", "--top-p", "0.9", "--top-k", "20", "--seed", "42"]
    let first = try generate(checkpoint, args)
    #expect(first.ids == sampled.ids)
    #expect(try generate(checkpoint, args).ids == first.ids)  // same seed, same answer
}

@Test func cliGenerateKeepsEOSInIdsAndOutOfText() throws {
    let checkpoint = try CLIFixtures.checkpoint(eosFirst: true)
    let eos = try #require(TestText.tokenizer.eosId)
    let out = try generate(checkpoint, ["--max-new-tokens", "5"])
    #expect(out.ids == [eos])
    #expect(out.text.isEmpty)
}

@Test func cliGenerateBadInputGivesOneLineErrors() throws {
    let checkpoint = try CLIFixtures.checkpoint(), image = try CLIFixtures.image().path
    func fails(_ args: [String], _ parts: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try HalluCLI.run(["generate"] + args)
        #expect(r.status == 1 && r.stdout.isEmpty, sourceLocation: sourceLocation)
        #expect(r.stderr.hasPrefix("error: ") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
        for p in parts { #expect(r.stderr.contains(p), "\"\(p)\" not in: \(r.stderr)", sourceLocation: sourceLocation) }
    }
    let base = ["--model", checkpoint.path, "--image", image, "--prompt", "Hi"]
    try fails(["--model", checkpoint.path, "--image", "/no/picture.png", "--prompt", "Hi"], ["--image", "/no/picture.png", "no such file"])
    try fails(["--model", "/no/model", "--image", image, "--prompt", "Hi"], ["--model", "/no/model"])
    // The layer fixture has weights and a config but no tokenizer.
    let noTokenizer = TestPaths.fixtures.appendingPathComponent("llava/layer_minus2_default/model").path
    try fails(["--model", noTokenizer, "--image", image, "--prompt", "Hi"], [noTokenizer, "tokenizer.json"])
    try fails(["--image", image, "--prompt", "Hi"], ["--model is required"])
    try fails(["--model", checkpoint.path, "--image", image], ["--prompt is required"])
    try fails(base + ["--temprature", "0.5"], ["--temprature", "did you mean --temperature?"])
    try fails(base + ["--num-beams", "2", "--temperature", "0.7"], ["--num-beams 2", "--temperature"])
    try fails(base + ["--top-p", "0.5"], ["--top-p", "--temperature"])
    try fails(base + ["--temperature", "1", "--top-p", "1.5"], ["--top-p", "(0, 1]"])
    try fails(base + ["--max-new-tokens", "many"], ["--max-new-tokens", "\"many\""])
    try fails(base + ["--num-beams", "0"], ["--num-beams", "at least 1"])
    try fails(["--model", checkpoint.path, "--image", image, "--prompt", "<image> and <image>"], ["--prompt", "2 times"])
    try fails(base + ["stray"], ["unexpected argument \"stray\""])
    try fails(base + ["--half-products", "bf8"], ["--half-products", "widened, bf16-dot", "\"bf8\""])
    if !Kernels.hasBF16Dot {
        try fails(base + ["--half-products", "bf16-dot"], ["--half-products bf16-dot", "AVX-512 BF16"])
    }
    let notAnImage = TestPaths.tempDir("cli-gen").appendingPathComponent("notes.png")
    try AtomicFile.write("not a picture", to: notAnImage)
    try fails(["--model", checkpoint.path, "--image", notAnImage.path, "--prompt", "Hi"], ["notes.png"])
}
