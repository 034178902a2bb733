import Foundation

extension GenerationConfig {
    /// Checks the decoding settings against hallu's limits and the model: beams and new tokens within
    /// `Limits`, and every prompt (its image expanded to the image's tokens) plus the new tokens within
    /// the model's `max_position_embeddings`. Sizes of buffers (the KV cache) follow from these.
    public func check(for config: LlavaConfig, prompts: [[Int]]) throws {
        guard maxNewTokens >= 0 else { throw HalluError("max new tokens must be 0 or more, got \(maxNewTokens)") }
        try Limits.newTokens.check(maxNewTokens, "max new tokens")
        guard numBeams >= 1 else { throw HalluError("the number of beams must be at least 1, got \(numBeams)") }
        try Limits.beams.check(numBeams, "beams")
        guard temperature.isFinite, temperature >= 0 else { throw HalluError("temperature must be 0 or more, got \(temperature)") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw HalluError("top-p must be in (0, 1], got \(topP)") }
        guard topK >= 0 else { throw HalluError("top-k must be 0 or more, got \(topK)") }
        try Limits.batchSize.check(prompts.count, "prompts in one generation batch")
        let positions = config.text.maxPositionEmbeddings
        let image = config.imageTokenIndex, perImage = config.imageSeqLength
        for ids in prompts {
            let images = ids.reduce(0) { $0 + ($1 == image ? 1 : 0) }
            let length = ids.count - images + images * perImage
            guard length + maxNewTokens <= positions else {
                throw HalluError("a prompt of \(length) positions (text and image tokens) and \(maxNewTokens) new tokens "
                    + "exceed the model's max_position_embeddings of \(positions) (config.json); ask for fewer new tokens")
            }
        }
    }
}
