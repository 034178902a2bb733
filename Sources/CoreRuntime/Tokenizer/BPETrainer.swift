/// Learns BPE merges from word counts, the way HF's `BpeTrainer` does: special tokens take the first
/// ids, then the alphabet sorted by code point, then one token per merge. Each step merges the most
/// frequent adjacent pair; ties go to the pair with the smaller (left id, right id). Counts are kept
/// incrementally, so a step costs only the words that contain the merged pair.
struct BPETrainer {
    let vocabSize: Int
    let minFrequency: Int
    let specialTokens: [String]
    let initialAlphabet: [Unicode.Scalar]

    struct Result {
        var vocab: [String]
        var merges: [(String, String)]
    }

    func train(wordCounts: [ExactKey: Int]) -> Result {
        var idOf: [ExactKey: Int32] = [:]
        var vocab: [String] = []
        func add(_ s: String) -> Int32 {
            if let id = idOf[ExactKey(s)] { return id }
            let id = Int32(vocab.count)
            vocab.append(s)
            idOf[ExactKey(s)] = id
            return id
        }
        for s in specialTokens where !s.isEmpty { _ = add(s) }
        // Words in a fixed order so that nothing depends on hashing.
        let words = wordCounts.sorted { $0.key.text.utf8.lexicographicallyPrecedes($1.key.text.utf8) }
        var alphabet = Set(initialAlphabet)
        for (w, _) in words { alphabet.formUnion(w.text.unicodeScalars) }
        for s in alphabet.sorted(by: { $0.value < $1.value }) { _ = add(String(s)) }

        var symbols: [[Int32]] = words.map { w in w.key.text.unicodeScalars.map { idOf[ExactKey(String($0))]! } }
        let counts = words.map(\.value)

        var pairCounts: [UInt64: Int] = [:]
        var wherePair: [UInt64: Set<Int32>] = [:]
        @inline(__always) func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }
        for (w, syms) in symbols.enumerated() where syms.count > 1 {
            for k in 0..<(syms.count - 1) {
                let p = key(syms[k], syms[k + 1])
                pairCounts[p, default: 0] += counts[w]
                wherePair[p, default: []].insert(Int32(w))
            }
        }
        var heap = PairHeap()
        for (p, c) in pairCounts where c > 0 { heap.push(count: c, pair: p) }

        var merges: [(String, String)] = []
        let floor = max(1, minFrequency)
        while vocab.count < vocabSize, let top = heap.pop() {
            let current = pairCounts[top.pair] ?? 0
            if current != top.count {
                if current > 0 { heap.push(count: current, pair: top.pair) }
                continue
            }
            if top.count < floor { break }
            let a = Int32(truncatingIfNeeded: top.pair >> 32), b = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            let newId = add(vocab[Int(a)] + vocab[Int(b)])
            merges.append((vocab[Int(a)], vocab[Int(b)]))

            var grown = Set<UInt64>()
            func change(_ p: UInt64, _ delta: Int, _ w: Int32) {
                pairCounts[p, default: 0] += delta * counts[Int(w)]
                if delta > 0 {
                    wherePair[p, default: []].insert(w)
                    grown.insert(p)
                }
            }
            for w in wherePair[top.pair] ?? [] {
                var s = symbols[Int(w)]
                var i = 0
                // Left to right, non-overlapping, updating the neighbours' pair counts as HF's Word::merge does.
                while i < s.count - 1 {
                    if s[i] == a && s[i + 1] == b {
                        if i > 0 {
                            change(key(s[i - 1], a), -1, w)
                            change(key(s[i - 1], newId), 1, w)
                        }
                        s[i] = newId
                        s.remove(at: i + 1)
                        if i + 1 < s.count {
                            change(key(b, s[i + 1]), -1, w)
                            change(key(newId, s[i + 1]), 1, w)
                        }
                    }
                    i += 1
                }
                symbols[Int(w)] = s
            }
            pairCounts[top.pair] = nil
            wherePair[top.pair] = nil
            for p in grown { if let c = pairCounts[p], c > 0 { heap.push(count: c, pair: p) } }
        }
        return Result(vocab: vocab, merges: merges)
    }
}

/// Heap of (count, pair): higher count first, then the smaller pair.
struct PairHeap {
    private struct Entry: Comparable {
        let count: Int, pair: UInt64
        static func < (x: Entry, y: Entry) -> Bool { x.count != y.count ? x.count > y.count : x.pair < y.pair }
    }
    private var heap = MinHeap<Entry>()

    mutating func push(count: Int, pair: UInt64) { heap.push(Entry(count: count, pair: pair)) }

    mutating func pop() -> (count: Int, pair: UInt64)? { heap.pop().map { ($0.count, $0.pair) } }
}

extension Tokenizer {
    /// Learns a GPT-2 style byte-level BPE tokenizer from `corpus`.
    ///
    /// - Parameters:
    ///   - vocabSize: target size including the special tokens and the 256 byte symbols; training stops
    ///     earlier when no pair occurs `minFrequency` times (at least once).
    ///   - specialTokens: added as special tokens with the first ids, in this order (duplicates and empty
    ///     strings are ignored). Like HF's trainer, the corpus text is not searched for them while counting.
    ///   - addBosToken: when one of the special tokens is a BOS (`<s>`, `<|begin_of_text|>`,
    ///     `<|startoftext|>`, `<bos>`), `encode` puts it in front of every text, as Llama does.
    /// Training is deterministic: the same corpus and settings give byte-identical saved files.
    public static func train(corpus: [String], vocabSize: Int, specialTokens: [String] = ["<unk>", "<s>", "</s>", "<pad>"],
                             minFrequency: Int = 0, addBosToken: Bool = true) -> Tokenizer {
        var seen = Set<ExactKey>()
        let specials = specialTokens.filter { !$0.isEmpty && seen.insert(ExactKey($0)).inserted }
        let pre = ByteLevelPreTokenizer(addPrefixSpace: false, trimOffsets: true, useRegex: true)
        var counts: [ExactKey: Int] = [:]
        for text in corpus {
            for w in pre.split(AlignedText(original: Array(text.unicodeScalars)[...])) where !w.isEmpty {
                counts[ExactKey(w.scalars), default: 0] += 1
            }
        }
        let trainer = BPETrainer(vocabSize: vocabSize, minFrequency: minFrequency, specialTokens: specials,
                                 initialAlphabet: ByteLevel.byteToScalar)
        let result = trainer.train(wordCounts: counts)
        let addedTokens = specials.enumerated().map { AddedToken(id: $0.offset, content: $0.element) }
        let bosName = addBosToken ? ["<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>"].first { specials.contains($0) } : nil
        let bosIdx = bosName.flatMap { n in specials.firstIndex(of: n) }
        do {
            // Every merge result and special token is in the vocabulary by construction, so this cannot fail.
            let model = try BPEModel(vocab: result.vocab.enumerated().map { ($0.element, $0.offset) }, merges: result.merges)
            return try Tokenizer(normalizer: nil, preTokenizer: pre, model: model,
                                 postProcessor: bosName != nil ? TemplatePostProcessor(bosToken: bosName, bosId: bosIdx) : nil,
                                 decoder: ByteLevelDecoder(), addedTokens: addedTokens)
        } catch {
            preconditionFailure("BPE training produced an inconsistent vocabulary: \(error)")
        }
    }
}
