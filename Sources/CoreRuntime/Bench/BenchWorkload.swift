import Foundation

/// The synthetic batches the model benchmarks run on, shaped like the scene world's: the `small`
/// preset at a vocabulary of 512, 32x32 images (16 image tokens), conversations of 40-60 text
/// tokens. Every value is a pure function of the sample index, so hallu and the PyTorch reference
/// (which reads the same batch from JSON) see identical inputs.
struct BenchWorkload {
    static let vocab = 512
    static let imageToken = vocab - 1
    static let bos = 1, eos = 2
    /// Text tokens of a prompt: BOS, the image placeholder, then the question.
    static let promptTokens = 14

    /// The model configuration of a model benchmark (`small` unless said otherwise).
    static func config(_ preset: LlavaPreset = .small) throws -> LlavaConfig {
        try preset.config(vocabSize: vocab, imageSize: 32, imageTokenIndex: imageToken)
    }

    /// Token ids (one placeholder each), labels (or nil) and `[N, 3, 32, 32]` pixels.
    var ids: [[Int]]
    var labels: [[Int]]?
    var pixels: Tensor
    /// Generation prompts are left-padded by the model; the reference must pad the same way.
    var leftPad = false

    var inputs: LlavaInputs { LlavaInputs(ids: ids, pixels: pixels, labels: labels) }

    /// A deterministic token in 3..<imageToken for (stream, sample, position).
    static func token(_ stream: UInt64, _ sample: Int, _ position: Int) -> Int {
        3 + Int(CounterRNG.bits(seed: stream, index: UInt64(sample * 1000 + position)) % UInt64(imageToken - 3))
    }

    static func prompt(_ s: Int) -> [Int] {
        [bos, imageToken] + (0..<(promptTokens - 2)).map { token(1, s, $0) }
    }

    /// Text length of sample s: 40 to 60 tokens.
    static func textLength(_ s: Int) -> Int { 40 + (s * 7) % 21 }

    /// An answer of `textLength - promptTokens` tokens ending with EOS, from token stream `stream`.
    static func answer(_ s: Int, stream: UInt64) -> [Int] {
        let n = textLength(s) - promptTokens
        return (0..<(n - 1)).map { token(stream, s, $0) } + [eos]
    }

    static func pixels(_ n: Int) -> Tensor {
        let t = Tensor(uninitializedShape: [n, 3, 32, 32])
        for i in 0..<t.count { t.data[i] = CounterRNG.uniform(seed: 99, index: UInt64(i)) * 2 - 1 }
        return t
    }

    /// `batch` supervised conversations (labels on the answer and its EOS).
    static func sft(batch: Int) -> BenchWorkload {
        var ids: [[Int]] = [], labels: [[Int]] = []
        for s in 0..<batch {
            let p = prompt(s), a = answer(s, stream: 2)
            ids.append(p + a)
            labels.append(Array(repeating: Tensor.ignoreIndex, count: p.count) + a)
        }
        return BenchWorkload(ids: ids, labels: labels, pixels: pixels(batch))
    }

    /// `batch` preference pairs as one batch of 2·batch sequences (chosen first, then rejected,
    /// as `TrainContext.preferenceInputs` orders them); one image per pair. The rejected answer has
    /// the chosen one's length with other tokens (substitutions, not additions).
    static func pairs(batch: Int) -> BenchWorkload {
        var ids: [[Int]] = [], labels: [[Int]] = []
        for stream: UInt64 in [2, 3] {
            for s in 0..<batch {
                let p = prompt(s), a = answer(s, stream: stream)
                ids.append(p + a)
                labels.append(Array(repeating: Tensor.ignoreIndex, count: p.count) + a)
            }
        }
        return BenchWorkload(ids: ids, labels: labels, pixels: pixels(batch))
    }

    /// `batch` prompts for generation, of different lengths (left-padded).
    static func prompts(batch: Int) -> BenchWorkload {
        let ids = (0..<batch).map { s in prompt(s) + (0..<(s % 4)).map { token(4, s, $0) } }
        return BenchWorkload(ids: ids, labels: nil, pixels: pixels(batch), leftPad: true)
    }

    /// Decoder positions of the batch (text tokens plus the image's feature rows), padding excluded.
    func tokens(imageTokens: Int) -> Int {
        ids.reduce(0) { acc, row in acc + row.count + (row.contains(Self.imageToken) ? imageTokens - 1 : 0) }
    }

    /// The JSON the PyTorch reference reads.
    func json() throws -> Data {
        var obj: [String: Any] = ["ids": ids, "pixels": pixels.values.map(Double.init), "pixel_shape": pixels.shape,
                                  "left_pad": leftPad]
        if let labels { obj["labels"] = labels }
        return try JSONSerialization.data(withJSONObject: obj)
    }
}

extension BenchWorkload {
    /// One size of the sweep: a LLaVA-layout model (CLIP-style tower, two-layer projector, Llama
    /// decoder with SwiGLU and multi-head attention of head width 64) at the benchmark's
    /// vocabulary and 32x32 images.
    struct SweepSize {
        let name: String
        let textDim: Int, textLayers: Int
        let visionDim: Int, visionLayers: Int

        func config() throws -> LlavaConfig {
            let text = LlavaTextConfig(
                hiddenSize: textDim, intermediateSize: LlavaPreset.swigluWidth(textDim), numHiddenLayers: textLayers,
                numAttentionHeads: textDim / 64, rmsNormEps: 1e-6, ropeTheta: 10_000, maxPositionEmbeddings: 512,
                vocabSize: BenchWorkload.vocab, bosTokenId: BenchWorkload.bos, eosTokenIds: [BenchWorkload.eos])
            let vision = LlavaVisionConfig(
                hiddenSize: visionDim, intermediateSize: 4 * visionDim, numHiddenLayers: visionLayers,
                numAttentionHeads: visionDim / 64, imageSize: 32, patchSize: 8)
            let config = LlavaConfig(text: text, vision: vision, imageTokenIndex: BenchWorkload.imageToken,
                                     projectorHiddenAct: .gelu, visionFeatureLayer: -2)
            try config.validate(file: "bench size \(name)")
            return config
        }

        /// Timed steps: fewer for the larger sizes (a 100M step takes seconds).
        func iterations(_ o: ModelBench.Options) -> Int { textDim >= 1024 ? o.largeIterations : o.iterations }
    }

    /// About 5M, 25M and 100M parameters.
    static let sweep: [SweepSize] = [
        SweepSize(name: "5m", textDim: 256, textLayers: 6, visionDim: 128, visionLayers: 3),
        SweepSize(name: "25m", textDim: 512, textLayers: 8, visionDim: 256, visionLayers: 3),
        SweepSize(name: "100m", textDim: 1024, textLayers: 8, visionDim: 384, visionLayers: 3),
    ]
}
