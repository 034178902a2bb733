import Foundation
import CoreRuntime

/// A tiny LLaVA in a training context for preference tests: stand-in tokenizer, deterministic pixels
/// per image path, a fresh run folder. `lora` attaches adapters (q/v of the decoder) and freezes the
/// rest; otherwise everything trains (the frozen-copy reference).
public func dpoContext(lora: Bool, seed: UInt64 = 5, runDir: URL? = nil) -> TrainContext {
    let model = LlavaModel(tinyConfig(), seed: seed)
    if lora { model.applyLoRA(targets: ["q_proj", "v_proj"], rank: 4, alpha: 8, dropout: 0, scope: "model.language_model", seed: 1) }
    let codec = try! PromptCodec(tokenizer: TestText.tokenizer, imageTokenIndex: model.config.imageTokenIndex, system: "")
    let images = ImageStore(size: 32) { path in
        var rng = SeededRNG(seed: path.utf8.reduce(UInt64(17)) { $0 &* 31 &+ UInt64($1) })
        return (0..<(3 * 32 * 32)).map { _ in Float.random(in: -1...1, using: &rng) }
    }
    let ctx = TrainContext(model: model, codec: codec, images: images, config: RunConfig(), runDir: runDir ?? TestPaths.tempDir("dpo"))
    ctx.log = { _ in }
    return ctx
}

/// Pairs whose chosen and rejected answers differ in length (the stand-in tokenizer keeps at most 10
/// bytes of each text), each with its own image.
public func dpoPairs(_ n: Int = 2, rejectedScores: [Double?]? = nil) -> [PreferencePair] {
    let chosen = ["red cup", "a dog", "two cats", "tree"]
    let rejected = ["red cup, blue bowl", "a dog and a kite", "cats", "tree, bench, sky"]
    return (0..<n).map { i in
        PreferencePair(id: "p\(i)", image: "img\(i).jpg", question: "Describe it.", chosen: chosen[i % 4],
                       rejected: rejected[i % 4], chosenScore: nil, rejectedScore: rejectedScores?[i])
    }
}

/// Copies of tensor values, for before/after comparisons.
public func snapshot(_ params: [(String, Tensor)]) -> [String: [Float]] {
    Dictionary(uniqueKeysWithValues: params.map { ($0.0, $0.1.values) })
}

/// Names whose values differ (bitwise) between two snapshots, sorted; short enough to print.
public func changedTensors(_ a: [String: [Float]], _ b: [String: [Float]]) -> [String] {
    Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
}
