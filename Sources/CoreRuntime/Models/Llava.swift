import Foundation

/// A batch as the model sees it: token ids with ONE image placeholder per sample (expanded to the
/// image's patch features inside the model, as LLaVA does), pixels, and optional labels.
public struct LlavaInputs {
    /// Per sample token ids; `imageTokenIndex` marks where the image goes (at most once).
    public var ids: [[Int]]
    /// `[B, C, H, W]` normalised pixels, one image per sample that has a placeholder (in order), or nil.
    public var pixels: Tensor?
    /// Per sample labels aligned with `ids` (`-100` = unsupervised), or nil.
    public var labels: [[Int]]?

    public init(ids: [[Int]], pixels: Tensor?, labels: [[Int]]? = nil) {
        self.ids = ids; self.pixels = pixels; self.labels = labels
    }
}

/// The spliced, padded sequences a forward pass ran on: lengths and per-position labels.
public struct LlavaSequenceLayout {
    /// Padded length T.
    public var length: Int
    /// Real length of each sample.
    public var lengths: [Int]
    /// `[B * T]` labels after the splice (-100 on image, prompt and padding positions).
    public var labels: [Int]
    /// `[B * T]` true where a position holds a real token (not padding).
    public var keyMask: [Bool]
    /// Where each sample's image features start (nil without an image).
    public var imageStart: [Int?]
}

/// LLaVA-1.5: CLIP vision tower -> 2-layer GELU projector -> Llama decoder, with the image features
/// spliced in at the image token. Parameter names follow `LlavaForConditionalGeneration`.
public final class LlavaModel: Module {
    public let config: LlavaConfig
    public let visionTower: CLIPVisionTower
    public let projector1: Linear
    public let projector2: Linear
    public let languageModel: LlamaModel

    public init(_ c: LlavaConfig, seed: UInt64 = 0) {
        config = c
        var rng = SeededRNG(seed: seed)
        visionTower = CLIPVisionTower(c.vision, rng: &rng)
        projector1 = Linear(c.vision.hiddenSize, c.text.hiddenSize, bias: c.multimodalProjectorBias, rng: &rng)
        projector2 = Linear(c.text.hiddenSize, c.text.hiddenSize, bias: c.multimodalProjectorBias, rng: &rng)
        languageModel = LlamaModel(c.text, rng: &rng)
    }

    public override var children: [(String, Module)] {
        var out: [(String, Module)] = [("model.vision_tower", visionTower), ("model.multi_modal_projector.linear_1", projector1),
                                       ("model.multi_modal_projector.linear_2", projector2)]
        for (n, m) in languageModel.stackChildren { out.append(("model.language_model.\(n)", m)) }
        if let head = languageModel.lmHead { out.append(("lm_head", head)) }
        return out
    }

    /// Number of feature rows one image contributes.
    public var imageTokens: Int {
        visionTower.patchesPerImage + (config.visionFeatureSelectStrategy == .full ? 1 : 0)
    }

    /// Projected image features `[B, P, D_text]` from pixels `[B, C, H, W]`.
    public func imageFeatures(_ pixels: Tensor) throws -> Tensor {
        var h = try visionTower.hiddenStates(pixels, layerCount: visionFeatureLayerCount())
        if config.visionFeatureSelectStrategy == .default { h = try h.slice(axis: 1, 1..<h.shape[1]) }
        return try projector2.project(projector1.project(h).activation(config.projectorHiddenAct.rawValue))
    }

    /// The vision tower's patch rows at `vision_feature_layer`, before the projector: `[B, P, D_vision]`
    /// (class token dropped whatever the select strategy).
    public func visionFeatures(_ pixels: Tensor) throws -> Tensor {
        let h = try visionTower.hiddenStates(pixels, layerCount: visionFeatureLayerCount())
        return try h.slice(axis: 1, 1..<h.shape[1])
    }

    /// How many encoder blocks run to reach `vision_feature_layer`.
    func visionFeatureLayerCount() throws -> Int {
        let n = config.vision.numHiddenLayers
        let layer = config.visionFeatureLayer < 0 ? n + 1 + config.visionFeatureLayer : config.visionFeatureLayer
        guard layer >= 0 && layer <= n else {
            throw HalluError("vision_feature_layer \(config.visionFeatureLayer) is out of range for \(n) vision layers")
        }
        return layer
    }

    /// Splices image features into the token embeddings and right-pads: `[B, T, D]` plus the layout.
    /// With `leftPad` the padding goes first, so that every sample's last token is at T-1 (generation).
    /// With `packed`, the sequences are laid end to end without padding instead: `[1, N, D]` with N
    /// the sum of the lengths (the layout still describes the padded batch).
    public func embed(_ inputs: LlavaInputs, imageFeatures: Tensor? = nil, leftPad: Bool = false,
                      packed: Bool = false) throws -> (Tensor, LlavaSequenceLayout) {
        let b = inputs.ids.count, d = config.text.hiddenSize, img = config.imageTokenIndex
        let feats = try imageFeatures ?? inputs.pixels.map { try self.imageFeatures($0) }
        let p = feats?.shape[1] ?? 0
        var flatIds: [Int] = []
        var rows: [[Int]] = []           // per sample: indices into [tokens; image rows; zero row]
        var labels: [[Int]] = []
        var starts: [Int?] = []
        var imageIndex = 0
        let tokenCount = inputs.ids.reduce(0) { $0 + $1.filter { $0 != img }.count }
        for (s, ids) in inputs.ids.enumerated() {
            var r: [Int] = [], l: [Int] = []
            var start: Int? = nil
            for (i, id) in ids.enumerated() {
                if id == img {
                    guard let feats, start == nil, imageIndex < feats.shape[0] else {
                        throw HalluError("sample \(s): image placeholder without an image (or more than one placeholder)")
                    }
                    start = r.count
                    for j in 0..<p { r.append(tokenCount + imageIndex * p + j); l.append(Tensor.ignoreIndex) }
                    imageIndex += 1
                } else {
                    guard id >= 0 && id < config.text.vocabSize else {
                        throw HalluError("sample \(s): token id \(id) outside the vocabulary of \(config.text.vocabSize)")
                    }
                    r.append(flatIds.count)
                    flatIds.append(id)
                    l.append(inputs.labels?[s][i] ?? Tensor.ignoreIndex)
                }
            }
            rows.append(r); labels.append(l); starts.append(start)
        }
        if let feats, imageIndex != feats.shape[0] {
            throw HalluError("batch has \(feats.shape[0]) images but \(imageIndex) image placeholders")
        }
        let t = rows.map(\.count).max() ?? 0
        guard t <= config.text.maxPositionEmbeddings else {
            throw HalluError("a sequence of \(t) positions (text and image tokens) is longer than the model's "
                + "max_position_embeddings of \(config.text.maxPositionEmbeddings) (config.json); shorten the text")
        }
        let zeroRow = tokenCount + (feats.map { $0.shape[0] * p } ?? 0)
        var index: [Int] = [], flatLabels: [Int] = [], mask: [Bool] = []
        for s in 0..<b {
            let pad = t - rows[s].count
            let padIndex = Array(repeating: zeroRow, count: pad), padLabels = Array(repeating: Tensor.ignoreIndex, count: pad)
            let real = Array(repeating: true, count: rows[s].count), padMask = Array(repeating: false, count: pad)
            index += leftPad ? padIndex + rows[s] : rows[s] + padIndex
            flatLabels += leftPad ? padLabels + labels[s] : labels[s] + padLabels
            mask += leftPad ? padMask + real : real + padMask
        }
        var parts = [try languageModel.embedTokens(flatIds)]
        if let feats { parts.append(try feats.reshaped([-1, d])) }
        parts.append(Tensor.zeros([1, d]))
        let table = try Tensor.concat(parts, axis: 0)
        let x = packed ? try table.indexSelect(rows.flatMap { $0 }).reshaped([1, -1, d])
                       : try table.indexSelect(index).reshaped([b, t, d])
        return (x, LlavaSequenceLayout(length: t, lengths: rows.map(\.count), labels: flatLabels, keyMask: mask, imageStart: starts))
    }

    /// Whether `hidden` runs a padded batch padding-free: the sequences end to end, every block on
    /// real tokens only and attention within each sequence. The results are the padded batch's
    /// (up to float rounding, since products sum in a different order); only the work on padding
    /// is saved. On by default.
    public var packsSequences = true

    /// Final hidden states `[B, T, D]` for a batch (right padded; zeros at the padding when the
    /// batch ran packed, see `packsSequences`). `imageFeatures` replaces the vision forward when given.
    public func hidden(_ inputs: LlavaInputs, imageFeatures: Tensor? = nil) throws -> (Tensor, LlavaSequenceLayout) {
        let (x, layout) = try embed(inputs, imageFeatures: imageFeatures, packed: packsSequences)
        let (b, t, d) = (layout.lengths.count, layout.length, config.text.hiddenSize)
        let padded = layout.lengths.contains { $0 != t }
        guard packsSequences, padded, layout.lengths.allSatisfy({ $0 > 0 }) else {
            // Packed rows without padding are the padded batch; with an empty sequence (nothing to
            // attend to), the batch runs padded.
            let xb = packsSequences && padded ? try Self.unpacked(x, layout) : try x.reshaped([b, t, d])
            let h = try languageModel.hidden(xb, positions: Array(0..<t), keyMask: layout.keyMask)
            return (h, layout)
        }
        let positions = layout.lengths.flatMap { 0..<$0 }
        let h = try languageModel.hidden(x, positions: positions, keyMask: nil, sequences: layout.lengths)
        return (try Self.unpacked(h, layout), layout)
    }

    /// The padded `[B, T, D]` batch of packed `[1, N, D]` rows, with zeros at the padding.
    static func unpacked(_ h: Tensor, _ layout: LlavaSequenceLayout) throws -> Tensor {
        let (n, d, t) = (h.shape[1], h.shape[2], layout.length)
        var index: [Int] = [], start = 0
        index.reserveCapacity(layout.lengths.count * t)
        for len in layout.lengths {
            index += start..<(start + len)
            index += repeatElement(n, count: t - len)
            start += len
        }
        let rows = try Tensor.concat([h.reshaped([n, d]), Tensor.zeros([1, d])], axis: 0)
        return try rows.indexSelect(index).reshaped([layout.lengths.count, t, d])
    }

    /// Logits `[B, T, V]` for every position.
    public func logits(_ inputs: LlavaInputs) throws -> Tensor {
        let (h, _) = try hidden(inputs)
        return try languageModel.logits(h)
    }

    /// Next-token targets: position t predicts the label at t+1. Returns the flat row indices of
    /// supervised positions and their targets, so the LM head runs only where a loss is taken.
    public static func shiftedTargets(_ layout: LlavaSequenceLayout) -> (rows: [Int], targets: [Int]) {
        var rows: [Int] = [], targets: [Int] = []
        let t = layout.length
        for s in 0..<layout.lengths.count {
            for i in 0..<(t - 1) {
                let y = layout.labels[s * t + i + 1]
                if y != Tensor.ignoreIndex { rows.append(s * t + i); targets.append(y) }
            }
        }
        return (rows, targets)
    }

    /// Logits at the supervised positions `[N, V]` and their targets.
    public func supervisedLogits(_ inputs: LlavaInputs) throws -> (logits: Tensor, targets: [Int], layout: LlavaSequenceLayout) {
        let (h, layout) = try hidden(inputs)
        let (rows, targets) = LlavaModel.shiftedTargets(layout)
        let d = config.text.hiddenSize
        let picked = try h.reshaped([-1, d]).indexSelect(rows)
        return (try languageModel.logits(picked), targets, layout)
    }

    /// Summed log-probability of the supervised tokens of each sequence: `[B]` (DPO's policy and
    /// reference terms). `imageFeatures` replaces the vision forward when given.
    public func sequenceLogProbs(_ inputs: LlavaInputs, imageFeatures: Tensor? = nil) throws -> Tensor {
        try DPO.sequenceForward(self, inputs, features: imageFeatures).logps
    }

    /// The standard causal-LM loss: mean cross-entropy over supervised tokens.
    public func loss(_ inputs: LlavaInputs) throws -> Tensor {
        let (logits, targets, _) = try supervisedLogits(inputs)
        return try Tensor.crossEntropy(logits, targets: targets)
    }
}
