import CoreRuntime
import Foundation

/// Which hallucinated captions of an example become negatives.
public enum HACLNegatives: String, CaseIterable {
    /// Only the first one per example: the released code's one "Hallucination caption" per record.
    case first
    /// Every one: more hard negatives per step, at one more text pass each.
    case all
}

/// The embeddings of one contrastive batch, projected and normalised.
public struct HACLBatchEmbeddings {
    /// `[B, d]` image embeddings.
    public var image: Tensor
    /// `[B, d]` true-caption embeddings (row i describes image i).
    public var positive: Tensor
    /// `[H, d]` hallucinated-caption embeddings, or nil when the batch has none.
    public var hallucinated: Tensor?
    /// `owners[k]` is the example (row of `image`) that hallucinated row k was written for.
    public var owners: [Int]
}

/// Global embeddings read out of the LLM itself, as HACL does: not mean pooling, but the last-layer
/// hidden state (after the final norm, i.e. Hugging Face's `last_hidden_state`) at an EOS token.
public enum HACLReadout {
    /// The EOS id the readouts end with: the tokenizer's, else the model config's.
    public static func eosId(tokenizer: Tokenizer, model: LlavaModel) throws -> Int {
        guard let eos = tokenizer.eosId ?? model.config.text.eosTokenId else {
            throw HalluError("hacl: neither the tokenizer nor the model config defines an EOS token, which the readout needs")
        }
        return eos
    }

    /// Caption ids as the released code tokenises them (`add_eos_token = True`, LLaMA's default BOS,
    /// no chat template): `[BOS] + tokens + [EOS]`.
    public static func captionIds(_ caption: String, tokenizer: Tokenizer, eos: Int) -> [Int] {
        (tokenizer.bosId.map { [$0] } ?? []) + tokenizer.encode(caption, addSpecialTokens: false) + [eos]
    }

    /// The LLM run on the projected visual tokens followed by the EOS token's embedding (inputs_embeds
    /// only, no text): the hidden state at that final EOS position, `[B, hidden]`.
    public static func imageStates(model: LlavaModel, features: Tensor, eos: Int) throws -> Tensor {
        guard features.rank == 3 else { throw HalluError("hacl: image features must be [B, P, D], got \(features.shape)") }
        let (b, p, d) = (features.shape[0], features.shape[1], features.shape[2])
        let eosRow = try model.languageModel.embedTokens([eos]).reshaped([1, 1, d])
        let x = try Tensor.concat([features, try eosRow.repeated(b)], axis: 1)
        let h = try model.languageModel.hidden(x, positions: Array(0..<(p + 1)), keyMask: nil)
        return try h.reshaped([b * (p + 1), d]).indexSelect((0..<b).map { $0 * (p + 1) + p })
    }

    /// `imageStates` from pixels `[B, C, H, W]`.
    public static func imageStates(model: LlavaModel, pixels: Tensor, eos: Int) throws -> Tensor {
        try imageStates(model: model, features: model.imageFeatures(pixels), eos: eos)
    }

    /// The LLM run on each id sequence alone (text only): the hidden state at each sequence's last
    /// token (the appended EOS), `[N, hidden]`. Padding never reaches a real position.
    public static func textStates(model: LlavaModel, ids: [[Int]]) throws -> Tensor {
        guard !ids.isEmpty else { throw HalluError("hacl: no captions to embed") }
        for (i, seq) in ids.enumerated() {
            if seq.isEmpty { throw HalluError("hacl: caption \(i) has no tokens") }
            if seq.contains(model.config.imageTokenIndex) {
                throw HalluError("hacl: caption \(i) contains the image token \(model.config.imageTokenIndex); captions are text only")
            }
        }
        // Padding-free when the model packs sequences (`LlavaModel.packsSequences`).
        let (h, layout) = try model.hidden(LlavaInputs(ids: ids, pixels: nil))
        let d = model.config.text.hiddenSize, t = layout.length
        return try h.reshaped([-1, d]).indexSelect(layout.lengths.enumerated().map { $0.offset * t + $0.element - 1 })
    }

    /// The ids of the hallucinated captions a batch uses, with the example each belongs to.
    public static func negatives(_ examples: [ContrastiveExample], _ rule: HACLNegatives) -> [(owner: Int, caption: String)] {
        examples.enumerated().flatMap { i, e in
            (rule == .first ? Array(e.hallucinatedCaptions.prefix(1)) : e.hallucinatedCaptions).map { (owner: i, caption: $0) }
        }
    }

    /// Image, true-caption and hallucinated-caption embeddings of a batch through the heads.
    /// Every example needs an image; the error names the one that has none.
    public static func embed(_ examples: [ContrastiveExample], negatives rule: HACLNegatives, model: LlavaModel,
                             codec: PromptCodec, images: ImageStore, heads: HACLHeads) throws -> HACLBatchEmbeddings {
        guard !examples.isEmpty else { throw HalluError("hacl: the batch holds no contrastive examples") }
        let paths = try examples.map { e -> String in
            guard let p = e.image else { throw HalluError("contrastive example \(e.id): no image; HACL pairs every caption with its image") }
            return p
        }
        guard let pixels = try images.batch(paths) else { throw HalluError("hacl: no images in the batch") }
        let eos = try eosId(tokenizer: codec.tokenizer, model: model)
        let negs = negatives(examples, rule)
        let captions = examples.map(\.caption) + negs.map(\.caption)
        let texts = try heads.embedTexts(textStates(model: model, ids: captions.map { captionIds($0, tokenizer: codec.tokenizer, eos: eos) }))
        let b = examples.count
        let positive = try texts.slice(axis: 0, 0..<b)
        let hallucinated = negs.isEmpty ? nil : try texts.slice(axis: 0, b..<captions.count)
        let image = try heads.embedImages(imageStates(model: model, pixels: pixels, eos: eos))
        return HACLBatchEmbeddings(image: image, positive: positive, hallucinated: hallucinated, owners: negs.map(\.owner))
    }
}
