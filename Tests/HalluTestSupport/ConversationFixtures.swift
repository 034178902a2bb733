import Foundation
import CoreRuntime

/// A tiny LLaVA with a train context over the stand-in tokenizer, and deterministic pixels per path.
public func selectiveEOSContext(seed: UInt64 = 5) -> TrainContext {
    let model = LlavaModel(tinyConfig(), seed: seed)
    let codec = try! PromptCodec(tokenizer: TestText.tokenizer, imageTokenIndex: model.config.imageTokenIndex, system: "")
    let images = ImageStore(size: 32) { path in
        var rng = SeededRNG(seed: path.utf8.reduce(UInt64(17)) { $0 &* 31 &+ UInt64($1) })
        return (0..<(3 * 32 * 32)).map { _ in rng.nextFloat() * 2 - 1 }
    }
    let ctx = TrainContext(model: model, codec: codec, images: images, config: RunConfig(), runDir: TestPaths.tempDir("seos"))
    ctx.log = { _ in }
    return ctx
}

/// Conversations of different lengths (one without an image, one with two assistant turns).
public func selectiveEOSConversations() -> [Conversation] {
    let answers = ["A cat.", "A dog on a red sofa.", "Two birds.", "A bus, a car and a person.", "Tea.", "A plate with a cake and a fork."]
    var out = answers.enumerated().map { i, a in
        Conversation(id: "s\(i)", image: "img\(i % 3).png",
                     turns: [ConversationTurn(from: "human", value: "<image>\nDescribe the image."), ConversationTurn(from: "gpt", value: a)])
    }
    out.append(Conversation(id: "text,only", image: nil, turns: [ConversationTurn(from: "human", value: "Hello"), ConversationTurn(from: "gpt", value: "Hi there")]))
    out.append(Conversation(id: "two\"turns", image: "img1.png",
                            turns: [ConversationTurn(from: "human", value: "<image>\nWhat is it?"), ConversationTurn(from: "gpt", value: "A kite."),
                                    ConversationTurn(from: "human", value: "Colour?"), ConversationTurn(from: "gpt", value: "Blue.")]))
    return out
}
