import Foundation

/// What a method sees while it trains: the model, the text and image pipelines, the token objective,
/// the reference policy for preference methods, and the run folder.
public final class TrainContext {
    public let model: LlavaModel
    public let codec: PromptCodec
    public let images: ImageStore
    public let config: RunConfig
    /// The run folder (`runs/<name>`).
    public let runDir: URL
    /// The objective every SFT term uses (cross-entropy unless a method supplies one).
    public var tokenObjective: TokenObjective = CrossEntropyObjective()
    /// The current optimiser step.
    public internal(set) var step = 0
    /// Status lines for the terminal and the log.
    public var log: (String) -> Void = { print($0) }
    /// Training data after every method's `transformData`.
    public var data = TrainingData()
    /// The data folder of the run (`--data`, or the default world), when there is one.
    public var dataDir: URL?
    /// The sample kinds (and their collations) the run knows.
    public var catalog = DataCatalog()
    /// The frozen reference policy for DPO-style methods, created on first use (methods create it in
    /// `prepare`, before the first optimiser step, so that it holds the starting weights).
    public var reference: ReferencePolicy {
        get throws {
            if let storedReference { return storedReference }
            let r = try ReferencePolicy(policy: model)
            storedReference = r
            return r
        }
    }
    private var storedReference: ReferencePolicy?

    public init(model: LlavaModel, codec: PromptCodec, images: ImageStore, config: RunConfig, runDir: URL) {
        self.model = model; self.codec = codec; self.images = images; self.config = config; self.runDir = runDir
    }

    /// Model inputs for SFT conversations (labels on assistant turns and their closing EOS).
    public func sftInputs(_ convs: [Conversation]) throws -> LlavaInputs {
        var ids: [[Int]] = [], labels: [[Int]] = [], paths: [String] = []
        for c in convs {
            let (i, l) = try codec.encode(c.turns)
            ids.append(i); labels.append(l)
            if i.contains(model.config.imageTokenIndex) {
                guard let p = c.image else { throw HalluError("sample \(c.id): text has <image> but the record names no image") }
                paths.append(p)
            }
        }
        return LlavaInputs(ids: ids, pixels: try images.batch(paths), labels: labels)
    }

    /// The SFT loss of a batch under the run's token objective, and the number of supervised tokens.
    public func lmLoss(_ inputs: LlavaInputs) throws -> (loss: Tensor, tokens: Int) {
        let (logits, targets, _) = try model.supervisedLogits(inputs)
        return (try tokenObjective.loss(logits: logits, targets: targets), targets.count)
    }

    /// Chosen and rejected sequences of preference pairs as one batch of 2B (chosen first), sharing the
    /// prompt tokens and the image features of each pair exactly.
    public func preferenceInputs(_ pairs: [PreferencePair]) throws -> (inputs: LlavaInputs, features: Tensor?) {
        var ids: [[Int]] = [], labels: [[Int]] = [], paths: [String] = []
        for side in 0..<2 {
            for p in pairs {
                let answer = side == 0 ? p.chosen : p.rejected
                let (i, l) = try codec.encode([ConversationTurn(from: "human", value: p.prompt), ConversationTurn(from: "gpt", value: answer)])
                ids.append(i); labels.append(l)
                if side == 0, i.contains(model.config.imageTokenIndex) {
                    guard let path = p.image else { throw HalluError("pair \(p.id): question has <image> but no image") }
                    paths.append(path)
                }
            }
        }
        let pixels = try images.batch(paths)
        let feats = try pixels.map { px -> Tensor in
            let f = try model.imageFeatures(px)
            return try Tensor.concat([f, f], axis: 0)
        }
        return (LlavaInputs(ids: ids, pixels: pixels.map { try! $0.repeated(2) }, labels: labels), feats)
    }

    /// Summed log-probability of the supervised tokens of each sequence: `[B]`.
    public func sequenceLogProbs(_ inputs: LlavaInputs, features: Tensor? = nil) throws -> Tensor {
        try model.sequenceLogProbs(inputs, imageFeatures: features)
    }
}

/// Text side of the model's input: LLaVA's v1 chat template over the tokenizer.
public final class PromptCodec {
    public let tokenizer: Tokenizer
    public let template: ChatTemplate
    public var imageTokenIndex: Int { template.imageTokenIndex }

    public init(tokenizer: Tokenizer, imageTokenIndex: Int, system: String = ChatTemplate.vicunaSystem) throws {
        self.tokenizer = tokenizer
        template = try ChatTemplate.llavaV1(tokenizer: tokenizer, imageTokenIndex: imageTokenIndex, system: system)
    }

    /// Ids and labels of a conversation (labels only on assistant answers and their EOS).
    public func encode(_ turns: [ConversationTurn]) throws -> (ids: [Int], labels: [Int]) {
        let e = try template.encode(turns.map { ChatTurn($0.isHuman ? .human : .gpt, $0.value) })
        return (e.inputIds, e.labels)
    }

    /// Prompt ids for generation: the question (with the image first), ending with "ASSISTANT:".
    public func prompt(_ question: String, withImage: Bool = true) -> [Int] {
        template.prompt(for: question, withImage: withImage)
    }

    /// The EOS id answers end with.
    public var eosId: Int { template.eosId }
}

/// Loads, preprocesses and caches images as `[C, H, W]` pixels for the model.
public final class ImageStore {
    /// Turns an image path into normalised CHW pixels; throws naming the file on failure.
    public let loader: (String) throws -> [Float]
    public let channels: Int, size: Int
    private var cache: [String: [Float]] = [:]
    private let lock = NSLock()

    public init(channels: Int = 3, size: Int, loader: @escaping (String) throws -> [Float]) {
        self.channels = channels; self.size = size; self.loader = loader
    }

    /// Pixels of one image (cached).
    public func pixels(_ path: String) throws -> [Float] {
        lock.lock(); defer { lock.unlock() }
        if let p = cache[path] { return p }
        let p = try loader(path)
        guard p.count == channels * size * size else {
            throw HalluError.file(path, "image preprocessed to \(p.count) values, expected \(channels)x\(size)x\(size)")
        }
        cache[path] = p
        return p
    }

    /// `[N, C, H, W]` for the given paths, or nil when there are none.
    public func batch(_ paths: [String]) throws -> Tensor? {
        if paths.isEmpty { return nil }
        let n = channels * size * size
        let t = Tensor(uninitializedShape: [paths.count, channels, size, size])
        for (i, p) in paths.enumerated() {
            let px = try pixels(p)
            px.withUnsafeBufferPointer { (t.data + i * n).update(from: $0.baseAddress!, count: n) }
        }
        return t
    }
}
