import Foundation

/// The matrix-product FLOPs a LLaVA pass needs, counted from the configuration and the batch
/// (2 FLOPs per multiply-add): what any implementation has to compute, not what hallu happens to
/// run. Model FLOP utilisation is these FLOPs per second over the machine's measured sgemm peak.
///
/// Counted: every linear layer (vision tower, projector, decoder, LM head on the rows that are
/// scored), the patch embedding, and attention's two products (the causal decoder's lower
/// triangle, T(T+1)/2 scores per head; the vision tower's full square). Not counted: norms,
/// activations, softmax, rotary embeddings, the optimiser (a few percent of the products' FLOPs
/// at these sizes). Backward of a trained product costs twice its forward (the input's and the
/// weight's gradient); a frozen product whose input needs a gradient costs once more.
enum ModelFLOPs {
    /// Forward FLOPs of the vision tower up to the feature layer and the projector, for `images` images.
    static func vision(_ c: LlavaConfig, images: Int) -> Double {
        let v = c.vision
        let p = Double(v.numPatches), rows = p + 1, d = Double(v.hiddenSize)
        let patch = p * Double(v.numChannels * v.patchSize * v.patchSize) * d
        let layers = Double(visionLayers(c))
        let perLayer = rows * (4 * d * d + 2 * d * Double(v.intermediateSize)) + 2 * rows * rows * d
        let projector = p * (d * Double(c.text.hiddenSize) + Double(c.text.hiddenSize * c.text.hiddenSize))
        return 2 * Double(images) * (patch + layers * perLayer + projector)
    }

    /// Forward FLOPs of the decoder blocks over sequences of the given real lengths (the LM head apart).
    static func decoder(_ c: LlavaTextConfig, lengths: [Int]) -> Double {
        let d = Double(c.hiddenSize), q = Double(c.numAttentionHeads * c.headDim)
        let kv = Double(c.numKeyValueHeads * c.headDim), inner = Double(c.intermediateSize)
        let linearPerRow = d * (q + 2 * kv) + q * d + 3 * d * inner
        var macs = 0.0
        for t in lengths {
            let tt = Double(t)
            macs += tt * linearPerRow + 2 * q * tt * (tt + 1) / 2
        }
        return 2 * Double(c.numHiddenLayers) * macs
    }

    /// Forward FLOPs of decoding: `steps` single-row steps per sequence after prompts of `prompt`
    /// positions (the cache grows by one per step); the LM head on every step.
    static func decodeSteps(_ c: LlavaTextConfig, prompt: Int, steps: Int, sequences: Int) -> Double {
        let d = Double(c.hiddenSize), q = Double(c.numAttentionHeads * c.headDim)
        let kv = Double(c.numKeyValueHeads * c.headDim), inner = Double(c.intermediateSize)
        let linearPerRow = d * (q + 2 * kv) + q * d + 3 * d * inner
        var macs = 0.0
        for s in 0..<steps {
            let keys = Double(prompt + s + 1)
            macs += Double(c.numHiddenLayers) * (linearPerRow + 2 * q * keys) + d * Double(c.vocabSize)
        }
        return 2 * Double(sequences) * macs
    }

    /// Forward FLOPs of the LM head on `rows` rows.
    static func head(_ c: LlavaTextConfig, rows: Int) -> Double {
        2 * Double(rows) * Double(c.hiddenSize) * Double(c.vocabSize)
    }

    static func visionLayers(_ c: LlavaConfig) -> Int {
        let n = c.vision.numHiddenLayers
        let layer = c.visionFeatureLayer < 0 ? n + 1 + c.visionFeatureLayer : c.visionFeatureLayer
        return max(0, min(n, layer))
    }

    /// Rows the LM head scores in a training step: positions whose next label is supervised.
    static func scoredRows(_ w: BenchWorkload) -> Int {
        (w.labels ?? []).reduce(0) { acc, row in acc + max(0, row.dropFirst().filter { $0 != Tensor.ignoreIndex }.count) }
    }

    /// Real decoder lengths of a batch (the image placeholder expanded to `imageTokens` rows).
    static func lengths(_ w: BenchWorkload, imageTokens: Int) -> [Int] {
        w.ids.map { $0.count + ($0.contains(BenchWorkload.imageToken) ? imageTokens - 1 : 0) }
    }

    /// One training step: forward, backward and (for DPO) the reference's forward.
    /// - `lora`: base weights frozen (adapters are a fraction of a percent of the products and are
    ///   not counted): the decoder and head cost forward + the input's gradient, the vision tower
    ///   and projector forward only.
    /// - `pairs`: the batch holds 2·B sequences over B images (image features once per pair) and a
    ///   reference scores every sequence without a graph (reusing the policy's features under LoRA).
    static func trainingStep(_ c: LlavaConfig, _ w: BenchWorkload, imageTokens: Int, lora: Bool, pairs: Bool) -> Double {
        let images = w.pixels.shape[0]
        let v = vision(c, images: images)
        let text = decoder(c.text, lengths: lengths(w, imageTokens: imageTokens)) + head(c.text, rows: scoredRows(w))
        let policy = lora ? v + 2 * text : 3 * (v + text)
        guard pairs else { return policy }
        return policy + (lora ? text : v + text)
    }
}
