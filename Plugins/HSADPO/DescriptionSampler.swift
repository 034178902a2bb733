import CoreRuntime
import Foundation

/// Stage 1 of the pipeline: the current policy describes images, in batches, without a tape.
public struct DescriptionSampler {
    public let model: LlavaModel
    public let codec: PromptCodec
    public let images: ImageStore
    public var batchSize = 64
    public var maxNewTokens = 96
    /// 0 = greedy; above 0, sampling from softmax(logits / temperature).
    public var temperature: Float = 0
    public var seed: UInt64 = 0

    public init(model: LlavaModel, codec: PromptCodec, images: ImageStore) {
        self.model = model; self.codec = codec; self.images = images
    }

    /// One answer per image to the same question. Sampling is seeded per batch, so the same seed gives
    /// the same answers.
    public func describe(_ paths: [String], question: String) throws -> [String] {
        var cfg = GenerationConfig()
        cfg.maxNewTokens = maxNewTokens
        cfg.eosTokenId = codec.eosId
        cfg.temperature = temperature
        let gen = Generator(model: model)
        let wasTraining = model.training
        model.train(false)
        defer { model.train(wasTraining) }
        var out: [String] = []
        let size = max(batchSize, 1)
        for (b, start) in stride(from: 0, to: paths.count, by: size).enumerated() {
            let chunk = Array(paths[start..<min(start + size, paths.count)])
            cfg.seed = seed &+ UInt64(b) &* 0x9E37_79B9_7F4A_7C15
            let prompt = codec.prompt(question)
            let inputs = LlavaInputs(ids: Array(repeating: prompt, count: chunk.count), pixels: try images.batch(chunk))
            for g in try gen.generate(inputs, cfg) {
                out.append(codec.tokenizer.decode(g.filter { $0 != codec.eosId }).trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        return out
    }
}
