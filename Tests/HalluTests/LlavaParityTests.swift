import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Parity with Hugging Face transformers' `LlavaForConditionalGeneration`: checkpoints and golden
/// outputs written by `scripts/gen_llava_goldens.py` (logits, loss, gradients, greedy and beam ids).

/// One fixture model: the checkpoint folder and what transformers computed with it.
struct LlavaGolden {
    let name: String
    let model: LlavaModel
    let json: [String: Any]
    let tensors: [String: HostArray]

    static let names = ["layer_minus2_default", "layer_minus1_full_tied"]

    static func load(_ name: String) throws -> LlavaGolden {
        let dir = TestPaths.fixtures.appendingPathComponent("llava/\(name)")
        let model = try LlavaModel.load(dir.appendingPathComponent("model"))
        let data = try Data(contentsOf: dir.appendingPathComponent("golden.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let tensors = try SafeTensors.read(dir.appendingPathComponent("golden.safetensors").path)
        return LlavaGolden(name: name, model: model, json: json, tensors: tensors)
    }

    func tensor(_ key: String) throws -> Tensor { try Tensor(try #require(tensors[key], "\(name): \(key)")) }
    var ids: [[Int]] { json["ids"] as! [[Int]] }
    var labels: [[Int]] { json["labels"] as! [[Int]] }
    var lengths: [Int] { json["lengths"] as! [Int] }
    var pixels: Tensor { get throws { try tensor("pixels") } }
}

/// Largest |a - b| over the real (unpadded) positions of `[B, T, V]` logits.
func realPositionsMaxDiff(_ a: Tensor, _ b: Tensor, lengths: [Int]) -> Float {
    let v = a.shape[2], ta = a.shape[1], tb = b.shape[1]
    var worst: Float = 0
    for (s, n) in lengths.enumerated() {
        for t in 0..<n {
            for j in 0..<v { worst = max(worst, abs(a.data[(s * ta + t) * v + j] - b.data[(s * tb + t) * v + j])) }
        }
    }
    return worst
}

@Test(arguments: LlavaGolden.names)
func llavaLogitsMatchTransformers(_ name: String) throws {
    let g = try LlavaGolden.load(name)
    #expect(g.model.imageTokens == g.json["image_tokens"] as? Int)
    let (h, layout) = try withNoGrad { try g.model.hidden(LlavaInputs(ids: g.ids, pixels: g.pixels)) }
    #expect(layout.lengths == g.lengths)
    let logits = try withNoGrad { try g.model.languageModel.logits(h) }
    let reference = try g.tensor("logits")
    #expect(logits.shape == reference.shape)
    let diff = realPositionsMaxDiff(logits, reference, lengths: g.lengths)
    print("llava parity \(name): logits max abs diff \(diff)")
    #expect(diff <= 1e-4, "\(name): logits differ by \(diff)")
}

@Test(arguments: LlavaGolden.names)
func llavaLossAndGradientsMatchTransformers(_ name: String) throws {
    let g = try LlavaGolden.load(name)
    g.model.zeroGrad()
    let loss = try g.model.loss(LlavaInputs(ids: g.ids, pixels: g.pixels, labels: g.labels))
    try loss.backward()
    let ref = try #require(g.json["loss"] as? Double)
    let lossRel = abs(Double(loss.item) - ref) / abs(ref)
    print("llava parity \(name): loss \(loss.item) vs \(ref), relative diff \(lossRel)")
    #expect(lossRel <= 1e-3)

    let params = Dictionary(uniqueKeysWithValues: g.model.namedParameters())
    var compared = 0
    for key in g.tensors.keys.sorted() where key.hasPrefix("grad.") {
        let pname = String(key.dropFirst(5))
        let p = try #require(params[pname], "\(name): no parameter \(pname)")
        let expected = try #require(g.tensors[key])
        let grad = try #require(p.grad, "\(name): \(pname) got no gradient").values
        #expect(grad.count == expected.values.count)
        let scale = expected.values.map(abs).max() ?? 0
        let diff = zip(grad, expected.values).map { abs($0 - $1) }.max() ?? 0
        print("llava parity \(name): grad \(pname) max abs diff \(diff) = \(diff / max(scale, 1e-30)) of max |g|")
        #expect(scale > 0, "\(name): \(pname) reference gradient is zero")
        #expect(diff <= 1e-3 * scale, "\(name): \(pname) gradient differs by \(diff) (max |g| \(scale))")
        compared += 1
    }
    #expect(compared >= 10)

    // Vision parameters after the selected layer (and the unused post-layernorm) take no part.
    for pname in g.json["vision_params_without_grad"] as! [String] {
        let p = try #require(params[pname])
        #expect(p.grad.map { $0.values.allSatisfy { $0 == 0 } } ?? true, "\(name): \(pname) has a gradient")
    }
}

/// Greedy ids with an EOS the model never emits, as `generate(do_sample=False)` gives them.
@Test(arguments: LlavaGolden.names)
func llavaGreedyMatchesTransformers(_ name: String) throws {
    let g = try LlavaGolden.load(name)
    let pixels = try g.pixels
    let one = g.json["greedy"] as! [String: Any]
    var cfg = GenerationConfig()
    cfg.maxNewTokens = one["max_new_tokens"] as! Int
    cfg.eosTokenId = one["eos"] as? Int
    let single = try Generator(model: g.model).generate(
        LlavaInputs(ids: [one["prompt"] as! [Int]], pixels: pixels.slice(axis: 0, 0..<1)), cfg)
    #expect(single == [one["ids"] as! [Int]], "\(name): greedy")

    // Two prompts of different lengths in one left-padded batch.
    let batch = g.json["greedy_batch"] as! [String: Any]
    let both = try Generator(model: g.model).generate(LlavaInputs(ids: batch["prompts"] as! [[Int]], pixels: pixels), cfg)
    #expect(both == batch["ids"] as! [[Int]], "\(name): batched greedy")
}

@Test(arguments: LlavaGolden.names)
func llavaBeamSearchMatchesTransformers(_ name: String) throws {
    let g = try LlavaGolden.load(name)
    let spec = g.json["beam"] as! [String: Any]
    let image = spec["image"] as! Int
    let inputs = LlavaInputs(ids: [spec["prompt"] as! [Int]], pixels: try g.pixels.slice(axis: 0, image..<(image + 1)))
    let cases = spec["cases"] as! [[String: Any]]
    #expect(cases.count >= 4)
    for c in cases {
        var cfg = GenerationConfig()
        cfg.numBeams = c["num_beams"] as! Int
        cfg.maxNewTokens = c["max_new_tokens"] as! Int
        cfg.lengthPenalty = Float(c["length_penalty"] as! Double)
        cfg.eosTokenId = c["eos"] as? Int
        let ids = try Generator(model: g.model).generate(inputs, cfg)
        #expect(ids == [c["ids"] as! [Int]], "\(name): beams \(cfg.numBeams), length penalty \(cfg.lengthPenalty), eos \(cfg.eosTokenId!)")
    }
}

// MARK: - The reverse direction: checkpoints hallu saves, read by transformers

/// Saves hallu-initialised models (the `small` preset, and the tied/biased fixture configuration)
/// with their logits for `scripts/gen_llava_goldens.py --verify DIR`, which loads them with
/// transformers. Writes to HALLU_LLAVA_EXPORT when set, else to a temporary folder; either way the
/// saved folder is reloaded here and must give the same logits.
@Test func llavaExportForTransformers() throws {
    let env = ProcessInfo.processInfo.environment["HALLU_LLAVA_EXPORT"]
    let root = env.map { URL(fileURLWithPath: $0) } ?? TestPaths.tempDir("llava-export")
    let fixtureConfig = try CheckpointFolder(TestPaths.fixtures.appendingPathComponent("llava/layer_minus1_full_tied/model")).loadConfig()
    let cases: [(String, LlavaConfig, UInt64)] = [
        ("preset_small", try LlavaConfig.small(vocabSize: 90, imageTokenIndex: 89), 21),
        ("tied_biased_full", fixtureConfig, 22),
    ]
    for (name, config, seed) in cases {
        let model = LlavaModel(config, seed: seed)
        // Norm weights start at one and zero; random values make a mix-up of scale and shift visible.
        var rng = SeededRNG(seed: seed + 100)
        for (pname, t) in model.namedParameters() where pname.contains("norm") || pname.contains("layrnorm") {
            try t.assign(Tensor.uniform(t.shape, low: -0.3, high: 0.3, rng: &rng).values.map { $0 + (pname.hasSuffix("weight") ? 1 : 0) })
        }
        let img = config.imageTokenIndex
        let ids = [[1, 7, img, 11, 12, 13, 14, 15], [1, img, 20, 21]]
        let pixels = tinyPixels(2, seed: seed)
        let (h, layout) = try withNoGrad { try model.hidden(LlavaInputs(ids: ids, pixels: pixels)) }
        let logits = try withNoGrad { try model.languageModel.logits(h) }

        let dir = root.appendingPathComponent(name)
        try model.save(to: dir.appendingPathComponent("model"), tokenizerJSON: nil, preprocessor: nil)
        try TensorFile.save(["pixels": pixels, "logits": logits], to: dir.appendingPathComponent("hallu_logits.safetensors"))
        let spec: [String: Any] = ["ids": ids, "lengths": layout.lengths, "image_tokens": model.imageTokens]
        try AtomicFile.writeJSON(spec, to: dir.appendingPathComponent("inputs.json"))

        let back = try LlavaModel.load(dir.appendingPathComponent("model"))
        let again = try withNoGrad { try back.logits(LlavaInputs(ids: ids, pixels: pixels)) }
        #expect(again.values == logits.values, "\(name): reloaded logits differ")
        #expect(back.config == config)
    }
}
