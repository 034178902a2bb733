import Foundation

/// One turn of a conversation, as LLaVA's data files write it (`"from": "human" | "gpt"`).
public struct ChatTurn: Equatable {
    public enum Role: String { case human, gpt }
    public var role: Role
    public var text: String

    public init(_ role: Role, _ text: String) {
        self.role = role
        self.text = text
    }
}

/// Input ids and training labels of one conversation.
public struct ConversationEncoding: Equatable {
    /// Token ids with each image placeholder as one `imageTokenIndex` (the model expands it later).
    public var inputIds: [Int]
    /// Same length as `inputIds`: the id where the model is trained to produce it (assistant answers and
    /// the EOS closing each answer), `ChatTemplate.ignoreIndex` elsewhere. Not shifted: position t's
    /// label is the token at t, as in HF; the loss shifts.
    public var labels: [Int]
}

/// LLaVA's conversation templates. `llavaV1` is LLaVA-1.5's "v1" / vicuna_v1:
///
///     {system} USER: <image>\n{q1} ASSISTANT: {a1}</s>USER: {q2} ASSISTANT: {a2}</s>
///
/// (sep " " after a user turn, sep2 = the EOS token's text after an assistant turn).
///
/// Token ids are what LLaVA's `tokenizer_image_token` gives for that prompt: the text is cut at each
/// `<image>`, every piece is tokenized on its own, the tokenizer's leading special tokens (BOS) are kept
/// once at the start, and each `<image>` becomes one `imageTokenIndex`.
///
/// Labels follow LLaVA's `preprocess_v1` (answer tokens and each turn's closing EOS are supervised;
/// system, user turns, role names, BOS and images are not), but they are found from each token's span
/// in the rendered text rather than from LLaVA's token-count arithmetic per round. A token is
/// supervised when its span overlaps the answer, taken from the space after "ASSISTANT:" (so the first
/// answer token, "▁The" or "ĠThe", is supervised, as in LLaVA) to the end of the EOS. For Llama-legacy
/// and byte-level tokenizers this gives exactly LLaVA's labels; where LLaVA's arithmetic miscounts (the
/// non-legacy Metaspace tokenizers, where "USER" after "</s>" tokenizes differently than at the start of a
/// text) it would mask the whole sample, while span labels stay correct.
public struct ChatTemplate {
    /// Label value of positions without a loss (PyTorch's `ignore_index`).
    public static let ignoreIndex = -100
    /// The placeholder LLaVA writes in conversation text.
    public static let imagePlaceholder = "<image>"
    /// LLaVA's own IMAGE_TOKEN_INDEX (HF's LlavaForConditionalGeneration uses a real vocabulary id instead).
    public static let llavaImageTokenIndex = -200
    /// The vicuna_v1 system prompt.
    public static let vicunaSystem = "A chat between a curious human and an artificial intelligence assistant. "
        + "The assistant gives helpful, detailed, and polite answers to the human's questions."

    public let tokenizer: Tokenizer
    /// The id that stands for one image in `inputIds`.
    public let imageTokenIndex: Int
    public let system: String
    public let userRole: String
    public let assistantRole: String
    /// Separator after a user turn.
    public let sep: String
    /// Separator after an assistant turn: the EOS token's text.
    public let sep2: String
    public let eosId: Int

    /// LLaVA-1.5's "v1" template over `tokenizer`.
    /// - Throws: `HalluError` when the tokenizer has no EOS token, or its EOS text does not encode to the
    ///   single EOS id (the template writes EOS as text, as LLaVA does).
    public static func llavaV1(tokenizer: Tokenizer, imageTokenIndex: Int, system: String = vicunaSystem) throws -> ChatTemplate {
        guard let eos = tokenizer.eosId, let eosText = tokenizer.token(of: eos) else {
            throw HalluError("chat template llava_v1: the tokenizer has no EOS token (expected </s>, <|endoftext|>, or eos_token in tokenizer_config.json)")
        }
        guard tokenizer.encode(eosText, addSpecialTokens: false) == [eos] else {
            throw HalluError("chat template llava_v1: EOS text \"\(eosText)\" does not encode to the single id \(eos); it must be an added token")
        }
        if let clash = tokenizer.token(of: imageTokenIndex), imageTokenIndex != tokenizer.id(of: imagePlaceholder) {
            throw HalluError("chat template llava_v1: image token index \(imageTokenIndex) is the vocabulary token \"\(clash)\"")
        }
        return ChatTemplate(tokenizer: tokenizer, imageTokenIndex: imageTokenIndex, system: system, userRole: "USER",
                            assistantRole: "ASSISTANT", sep: " ", sep2: eosText, eosId: eos)
    }

    // MARK: Rendering

    /// A rendered prompt and, per assistant answer, the scalar span that is supervised.
    struct Rendered {
        var text: [Unicode.Scalar] = []
        var supervised: [Range<Int>] = []

        mutating func add(_ s: String) { text.append(contentsOf: s.unicodeScalars) }
    }

    /// Checks roles as LLaVA does: a leading assistant turn is dropped; then turns must alternate,
    /// starting with the user. An empty assistant text is only allowed last (it asks for generation).
    func validated(_ turns: [ChatTurn]) throws -> [ChatTurn] {
        var t = turns
        if t.first?.role == .gpt { t.removeFirst() }
        guard !t.isEmpty else { throw HalluError("conversation has no human turn") }
        for (k, turn) in t.enumerated() {
            let expected: ChatTurn.Role = k % 2 == 0 ? .human : .gpt
            guard turn.role == expected else {
                throw HalluError("conversation turn \(k + 1): expected \(expected.rawValue), found \(turn.role.rawValue) (turns must alternate human, gpt)")
            }
            if turn.role == .gpt && turn.text.isEmpty && k + 1 < t.count {
                throw HalluError("conversation turn \(k + 1): empty gpt answer before the last turn")
            }
        }
        return t
    }

    /// The prompt text, exactly as LLaVA's `get_prompt` builds it for the v1 (TWO) separator style.
    public func render(_ turns: [ChatTurn]) throws -> String {
        ExactKey(renderValidated(try validated(turns)).text).text
    }

    func renderValidated(_ turns: [ChatTurn]) -> Rendered {
        var r = Rendered()
        r.add(system)
        r.add(sep)
        for (k, turn) in turns.enumerated() {
            let role = k % 2 == 0 ? userRole : assistantRole
            if turn.text.isEmpty {
                r.add(role + ":")
                continue
            }
            r.add(role + ":")
            let start = r.text.count
            r.add(" " + turn.text)
            if k % 2 == 0 {
                r.add(sep)
            } else {
                r.add(sep2)
                r.supervised.append(start..<r.text.count)
            }
        }
        return r
    }

    // MARK: Encoding

    /// Input ids and labels of a conversation (see the type's documentation for the conventions).
    /// - Throws: `HalluError` when the roles do not alternate as LLaVA requires.
    public func encode(_ turns: [ChatTurn]) throws -> ConversationEncoding {
        encodeRendered(renderValidated(try validated(turns)))
    }

    /// The generation prompt for one question: "{system} USER: <image>\n{question} ASSISTANT:".
    /// `<image>\n` is put in front unless `withImage` is false or the question already holds `<image>`.
    public func prompt(for question: String, withImage: Bool = true) -> [Int] {
        let q = withImage && !question.contains(ChatTemplate.imagePlaceholder) ? ChatTemplate.imagePlaceholder + "\n" + question : question
        return encodeRendered(renderValidated([ChatTurn(.human, q), ChatTurn(.gpt, "")])).inputIds
    }

    func encodeRendered(_ r: Rendered) -> ConversationEncoding {
        let placeholder = Array(ChatTemplate.imagePlaceholder.unicodeScalars)
        var ids = tokenizer.sequencePrefix
        var spans: [Range<Int>] = Array(repeating: 0..<0, count: ids.count)
        var chunkStart = 0
        func addChunk(_ range: Range<Int>) {
            guard !range.isEmpty else { return }
            let e = tokenizer.encoding(ExactKey(r.text[range]).text, addSpecialTokens: false)
            ids += e.ids
            spans += e.offsets.map { ($0.lowerBound + range.lowerBound)..<($0.upperBound + range.lowerBound) }
        }
        for m in literalMatches(of: placeholder, in: r.text) {
            addChunk(chunkStart..<m.lowerBound)
            ids.append(imageTokenIndex)
            spans.append(m)
            chunkStart = m.upperBound
        }
        addChunk(chunkStart..<r.text.count)
        var labels = [Int](repeating: ChatTemplate.ignoreIndex, count: ids.count)
        var a = 0
        for (t, span) in spans.enumerated() where !span.isEmpty && ids[t] != imageTokenIndex {
            while a < r.supervised.count && r.supervised[a].upperBound <= span.lowerBound { a += 1 }
            if a < r.supervised.count && r.supervised[a].overlaps(span) { labels[t] = ids[t] }
        }
        return ConversationEncoding(inputIds: ids, labels: labels)
    }

    /// LLaVA's `preprocess_multimodal`: a human turn holding `<image>` gets it moved to the front,
    /// followed by a newline ("<image>\n{text without the placeholder, trimmed}").
    public static func movingImageToFront(_ turns: [ChatTurn]) -> [ChatTurn] {
        turns.map { turn in
            guard turn.text.contains(imagePlaceholder) else { return turn }
            let rest = turn.text.replacingOccurrences(of: imagePlaceholder, with: "").trimmingCharacters(in: .whitespacesAndNewlines)
            return ChatTurn(turn.role, (imagePlaceholder + "\n" + rest).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    // MARK: Debugging

    /// A readable view of a batch: each sample decoded, with supervised spans between ⟦ and ⟧,
    /// images as `<image>`, and a header with token counts. Meant for eyeballing collated batches.
    public func describe(batch: [ConversationEncoding]) -> String {
        var out = ""
        for (k, sample) in batch.enumerated() {
            let supervised = sample.labels.filter { $0 != ChatTemplate.ignoreIndex }.count
            let mismatched = zip(sample.inputIds, sample.labels).filter { $1 != ChatTemplate.ignoreIndex && $0 != $1 }.count
            out += "#\(k) tokens=\(sample.inputIds.count) supervised=\(supervised)"
            if sample.labels.count != sample.inputIds.count { out += " LENGTH-MISMATCH labels=\(sample.labels.count)" }
            if mismatched > 0 { out += " label!=id at \(mismatched)" }
            out += "\n"
            var run: [Int] = []
            var runSupervised = false
            func flush() {
                guard !run.isEmpty else { return }
                let text = tokenizer.decode(run, skipSpecialTokens: false)
                out += runSupervised ? "⟦" + text + "⟧" : text
                run.removeAll()
            }
            for (t, id) in sample.inputIds.enumerated() {
                let isSup = t < sample.labels.count && sample.labels[t] != ChatTemplate.ignoreIndex
                if id == imageTokenIndex {
                    flush()
                    out += isSup ? "⟦<image>⟧" : "<image>"
                    continue
                }
                if isSup != runSupervised { flush(); runSupervised = isSup }
                run.append(id)
            }
            flush()
            out += "\n"
        }
        return out
    }

    /// `describe(batch:)` for one sample.
    public func describe(_ sample: ConversationEncoding) -> String { describe(batch: [sample]) }
}
