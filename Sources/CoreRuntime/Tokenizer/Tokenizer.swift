import Foundation

/// A tokenizer compatible with Hugging Face `tokenizers` files (tokenizer.json) for BPE models: GPT-2
/// style byte-level BPE and Llama style BPE with byte fallback.
///
/// Encoding runs the stages HF runs, in the same order: added tokens are matched in the raw text, each
/// remaining span is normalized, normalized added tokens are matched, the pre-tokenizer cuts words,
/// the BPE model encodes each word (cached per word), and the post-processor adds special tokens.
/// Instances are immutable after loading and safe to use from several threads.
///
/// Supported tokenizer.json components (anything else is refused with an error naming it):
/// - model: BPE (vocab, merges as "a b" or ["a", "b"], unk_token, fuse_unk, byte_fallback,
///   continuing_subword_prefix, end_of_word_suffix, ignore_merges; dropout must be null or 0)
/// - normalizer: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents
/// - pre_tokenizer: Sequence, ByteLevel, Metaspace, Split, WhitespaceSplit
/// - post_processor: TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence
/// - decoder: Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, BPEDecoder
/// - added_tokens with single_word, lstrip, rstrip, normalized and special; truncation (max_length,
///   direction) is applied; padding is kept for saving but not applied (it concerns batches).
public final class Tokenizer {
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: BPEModel
    let postProcessor: PostProcessor?
    let decoder: TokenDecoder?
    let added: AddedVocabulary
    /// Sections this implementation keeps but does not interpret, written back unchanged on save.
    private let paddingJSON: OrderedJSON
    private let truncationJSON: OrderedJSON
    private let truncation: (maxLength: Int, left: Bool)?

    /// Id of the beginning-of-sequence token, if the tokenizer has one.
    public private(set) var bosId: Int?
    /// Id of the end-of-sequence token (`</s>` for Llama, `<|endoftext|>` for GPT-2).
    public private(set) var eosId: Int?
    /// Id of the padding token, if any.
    public private(set) var padId: Int?
    /// Id of the unknown token, if any.
    public private(set) var unkId: Int?

    /// One encoded text: ids and, for each id, the span of the input it came from, in Unicode scalar
    /// offsets (what Python's `str` indexes). Tokens added by the post-processor have empty spans.
    public struct Encoding: Equatable {
        public var ids: [Int]
        public var offsets: [Range<Int>]
    }

    init(normalizer: Normalizer?, preTokenizer: PreTokenizer?, model: BPEModel, postProcessor: PostProcessor?,
         decoder: TokenDecoder?, addedTokens: [AddedToken], padding: OrderedJSON = .null,
         truncation: OrderedJSON = .null, file: String = "<memory>") throws {
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        self.decoder = decoder
        added = AddedVocabulary(addedTokens)
        paddingJSON = padding
        truncationJSON = truncation
        if !truncation.isNull {
            let t = JSONSection(value: truncation, file: file, keyPath: "truncation")
            let dir = try t.optionalString("direction") ?? "Right"
            guard dir == "Right" || dir == "Left" else { throw t.fail("unknown direction \"\(dir)\"") }
            self.truncation = (try t.int("max_length"), dir == "Left")
        } else {
            self.truncation = nil
        }
        unkId = model.unkId ?? id(of: "<unk>")
        bosId = (postProcessor as? TemplatePostProcessor)?.leadingId ?? firstSpecial(["<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>"])
        eosId = firstSpecial(["</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>"])
        padId = firstSpecial(["<pad>", "<|pad|>", "[PAD]", "<|padding|>"])
    }

    private func firstSpecial(_ names: [String]) -> Int? {
        for n in names { if let id = added.id(of: n), added.token(forId: id)?.special == true { return id } }
        return nil
    }

    // MARK: Loading and saving

    /// Loads a tokenizer.json (or the tokenizer.json inside a checkpoint folder). A tokenizer_config.json
    /// beside it, when present, names the bos/eos/pad/unk tokens; otherwise they are recognised by the
    /// post-processor template and by their usual names (`<s>`, `</s>`, `<pad>`, `<unk>`, `<|endoftext|>`).
    /// - Throws: `HalluError` naming the file and the key or component that is missing, malformed or
    ///   unsupported (e.g. a Unigram or WordPiece model).
    public static func load(_ path: String) throws -> Tokenizer {
        var file = path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            file = URL(fileURLWithPath: path).appendingPathComponent("tokenizer.json").path
        }
        let json = try OrderedJSON.parse(try JSONFiles.readData(file), path: file)
        let tok = try Tokenizer(json: json, file: file)
        let configPath = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("tokenizer_config.json").path
        if FileManager.default.fileExists(atPath: configPath) {
            try tok.applyConfig(OrderedJSON.parse(try JSONFiles.readData(configPath), path: configPath), file: configPath)
        }
        return tok
    }

    /// Parses tokenizer.json content; `file` is only used in error messages.
    public static func load(data: Data, file: String = "<tokenizer.json>") throws -> Tokenizer {
        try Tokenizer(json: OrderedJSON.parse(data, path: file), file: file)
    }

    convenience init(json: OrderedJSON, file: String) throws {
        let root = JSONSection(value: json, file: file, keyPath: "")
        guard case .object = json else { throw HalluError.file(file, "expected a JSON object at the top level") }
        let model = try BPEModel.load(try root.section("model"))
        let addedTokens = try root.optionalSection("added_tokens")?.items().map(AddedToken.read) ?? []
        try self.init(
            normalizer: try root.optionalSection("normalizer").map(Normalizers.make),
            preTokenizer: try root.optionalSection("pre_tokenizer").map(PreTokenizers.make),
            model: model,
            postProcessor: try root.optionalSection("post_processor").map(PostProcessors.make),
            decoder: try root.optionalSection("decoder").map(TokenDecoders.make),
            addedTokens: addedTokens,
            padding: root.optional("padding") ?? .null,
            truncation: root.optional("truncation") ?? .null,
            file: file)
    }

    private func applyConfig(_ json: OrderedJSON, file: String) throws {
        let c = JSONSection(value: json, file: file, keyPath: "")
        func named(_ key: String) throws -> Int?? {
            guard let v = c.optional(key) else { return .none }
            let name: String
            switch v {
            case let .string(s): name = s
            case .object: name = try JSONSection(value: v, file: file, keyPath: key).string("content")
            default: throw HalluError.file(file, "\(key): expected a string or an object with \"content\"")
            }
            guard let id = id(of: name) else { throw HalluError.file(file, "\(key) \"\(name)\" is not in the vocabulary") }
            return .some(id)
        }
        if let v = try named("bos_token") { bosId = v }
        if let v = try named("eos_token") { eosId = v }
        if let v = try named("pad_token") { padId = v }
        if let v = try named("unk_token") { unkId = v }
    }

    /// The tokenizer.json content, in the layout HF writes.
    var json: OrderedJSON {
        .object([
            ("version", .string("1.0")),
            ("truncation", truncationJSON),
            ("padding", paddingJSON),
            ("added_tokens", .array(added.tokens.map(\.json))),
            ("normalizer", normalizer?.json ?? .null),
            ("pre_tokenizer", preTokenizer?.json ?? .null),
            ("post_processor", postProcessor?.json ?? .null),
            ("decoder", decoder?.json ?? .null),
            ("model", model.json),
        ])
    }

    /// Writes tokenizer.json that HF `tokenizers` loads (atomically: a crash never leaves half a file).
    /// `path` may also be an existing folder, which then receives `tokenizer.json`.
    public func save(_ path: String) throws {
        var url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            url = url.appendingPathComponent("tokenizer.json")
        }
        try AtomicFile.write(Self.fileText(json), to: url)
    }

    /// Writes a tokenizer_config.json naming the special tokens, as HF checkpoints carry beside tokenizer.json.
    public func saveConfig(_ path: String) throws {
        var e: [(String, OrderedJSON)] = [("tokenizer_class", .string("PreTrainedTokenizerFast"))]
        for (key, id) in [("bos_token", bosId), ("eos_token", eosId), ("pad_token", padId), ("unk_token", unkId)] {
            if let id, let t = token(of: id) { e.append((key, .string(t))) }
        }
        try AtomicFile.write(Self.fileText(.object(e)), to: URL(fileURLWithPath: path))
    }

    /// The text of a tokenizer file: two-space indentation, with merges and other short arrays of
    /// plain values on one line so a large vocabulary stays readable.
    static func fileText(_ json: OrderedJSON) -> String { json.pretty(indent: 2, inlineArrays: 16) + "\n" }

    // MARK: Vocabulary

    /// Rows an embedding matrix needs: the largest id in the vocabulary or the added tokens, plus one.
    public var vocabSize: Int { max(model.maxId, added.maxId) + 1 }

    /// The id of a token string (added tokens first, then the model vocabulary).
    public func id(of token: String) -> Int? { added.id(of: token) ?? model.id(of: token) }

    /// The token string of an id, nil for an unknown id.
    public func token(of id: Int) -> String? { added.token(forId: id)?.content ?? model.token(of: id) }

    /// Whether `id` is a special added token (what `decode(skipSpecialTokens:)` drops).
    public func isSpecial(_ id: Int) -> Bool { added.token(forId: id)?.special ?? false }

    /// The added tokens, sorted by id.
    public var addedTokens: [AddedToken] { added.tokens }

    // MARK: Encoding

    /// Token ids of `text`; with `addSpecialTokens` the post-processor's tokens (e.g. BOS) are added.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        encoding(text, addSpecialTokens: addSpecialTokens).ids
    }

    /// Ids and the input span of each id.
    public func encoding(_ text: String, addSpecialTokens: Bool = true) -> Encoding {
        let scalars = Array(text.unicodeScalars)
        var run = TokenRun()
        run.ids.reserveCapacity(scalars.count / 3 + 2)
        run.offsets.reserveCapacity(scalars.count / 3 + 2)
        for section in added.split(AlignedText(original: scalars[...]), normalizedPass: false) {
            switch section {
            case let .token(id, span):
                run.append(id, span)
            case var .text(t):
                normalizer?.normalize(&t)
                for sub in added.split(t, normalizedPass: true) {
                    switch sub {
                    case let .token(id, span): run.append(id, span)
                    case let .text(n): encodeWords(n, into: &run)
                    }
                }
            }
        }
        if let (maxLength, left) = truncation {
            let keep = max(0, maxLength - (addSpecialTokens ? (postProcessor?.addedCount ?? 0) : 0))
            if run.ids.count > keep {
                if left {
                    run.ids.removeFirst(run.ids.count - keep)
                    run.offsets.removeFirst(run.offsets.count - keep)
                } else {
                    run.ids.removeLast(run.ids.count - keep)
                    run.offsets.removeLast(run.offsets.count - keep)
                }
            }
        }
        if addSpecialTokens, let pp = postProcessor { run = pp.process(run) }
        return Encoding(ids: run.ids, offsets: run.offsets)
    }

    private func encodeWords(_ text: AlignedText, into run: inout TokenRun) {
        let words = preTokenizer?.split(text) ?? [text]
        for w in words where !w.isEmpty {
            let t = model.tokenize(w.scalars)
            var k = 0
            while k < t.count {
                run.append(Int(t[k]), w.span(Int(t[k + 1])..<Int(t[k + 2])))
                k += 3
            }
        }
    }

    /// The ids the post-processor puts in front of every sequence (BOS for Llama-style tokenizers).
    public var sequencePrefix: [Int] {
        guard let pp = postProcessor else { return [] }
        let marked = pp.process(TokenRun(ids: [-1], offsets: [0..<0])).ids
        return Array(marked.prefix { $0 != -1 })
    }

    // MARK: Decoding

    /// Text of `ids`. Unknown ids are dropped; with `skipSpecialTokens` so are special added tokens.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            if let a = added.token(forId: id) {
                if skipSpecialTokens && a.special { continue }
                tokens.append(a.content)
            } else if let t = model.token(of: id) {
                tokens.append(t)
            }
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }
}
