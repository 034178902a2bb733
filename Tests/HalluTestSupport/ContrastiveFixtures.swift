import Foundation
import CoreRuntime

/// A tiny model with a train context whose images are deterministic functions of their path.
public enum HACLFixture {
    public static func context(seed: UInt64 = 0, config: RunConfig = RunConfig()) -> TrainContext {
        let model = LlavaModel(tinyConfig(), seed: seed)
        let codec = try! PromptCodec(tokenizer: TestText.tokenizer, imageTokenIndex: model.config.imageTokenIndex, system: "")
        let images = ImageStore(size: 32) { path in
            guard path.hasPrefix("img") else { throw HalluError.file(path, "no such image") }
            var rng = SeededRNG(seed: UInt64(path.utf8.reduce(0) { $0 &* 31 &+ Int($1) }.magnitude))
            return (0..<(3 * 32 * 32)).map { _ in rng.nextFloat() * 2 - 1 }
        }
        let ctx = TrainContext(model: model, codec: codec, images: images, config: config, runDir: TestPaths.tempDir("hacl"))
        ctx.log = { _ in }
        return ctx
    }

    public static let captions = ["a red cup on a table", "two dogs in the park", "a cat under a chair", "a bus next to a car",
                           "a man with a kite", "a bowl of fruit", "three birds on a wire", "a boat on the lake"]

    /// Contrastive examples: the true caption and two hallucinated edits of it.
    public static func contrastive(_ n: Int) -> [ContrastiveExample] {
        (0..<n).map { i in
            let c = captions[i % captions.count]
            return ContrastiveExample(id: "c\(i)", image: "img\(i)", prompt: "Give a brief description of the image.", caption: c,
                                      hallucinatedCaptions: [c.replacingOccurrences(of: "a ", with: "the "), "a giraffe and " + c])
        }
    }

    public static func conversations(_ n: Int) -> [Conversation] {
        (0..<n).map { i in
            Conversation(id: "s\(i)", image: "img\(i)",
                         turns: [ConversationTurn(from: "human", value: "<image>\nDescribe."), ConversationTurn(from: "gpt", value: captions[i % captions.count])])
        }
    }

    public static func batch(sft: Int, contrastive: Int) -> Batch {
        var b = Batch()
        b.conversations = conversations(sft)
        b.contrastive = Array(self.contrastive(contrastive))
        return b
    }
}
