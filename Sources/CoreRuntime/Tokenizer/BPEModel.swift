import Foundation

/// Third stage: byte-pair encoding of one pre-tokenized word (HF `models.BPE`).
final class BPEModel {
    /// Token string -> id, compared by exact scalars.
    let vocab: [ExactKey: Int]
    /// id -> token string (nil for ids only an added token uses).
    let idToToken: [String?]
    /// Merges in rank order, as token ids.
    let merges: [(Int, Int)]
    /// (left id << 32 | right id) -> (rank << 32 | merged id).
    private let mergeTable: PairTable
    /// Single-scalar tokens below U+10000 by scalar value (-1: none); the first step of every word.
    private let scalarTable: [Int32]
    /// Single-scalar tokens above the table.
    private let scalarIds: [Unicode.Scalar: Int32]
    /// `<0xNN>` ids when byte fallback is on; -1 where the vocabulary lacks one.
    private let byteIds: [Int32]

    let unkToken: String?
    let unkId: Int?
    let fuseUnk: Bool
    let byteFallback: Bool
    let continuingSubwordPrefix: String?
    let endOfWordSuffix: String?
    let ignoreMerges: Bool

    private var cache: [ScalarsKey: [Int32]] = [:]
    private let cacheLock = NSLock()
    /// Words cached at most; beyond this the cache stops growing (as HF's does).
    static let cacheCapacity = 100_000
    /// Longer words (e.g. a whole text under a Llama normalizer with no pre-tokenizer) are not cached.
    static let cacheMaxWordLength = 256

    init(vocab: [(String, Int)], merges: [(String, String)], unkToken: String? = nil, fuseUnk: Bool = false,
         byteFallback: Bool = false, continuingSubwordPrefix: String? = nil, endOfWordSuffix: String? = nil,
         ignoreMerges: Bool = false, file: String = "<memory>") throws {
        var v: [ExactKey: Int] = [:]
        v.reserveCapacity(vocab.count)
        var maxId = -1
        for (tok, id) in vocab {
            guard id >= 0 else { throw HalluError.file(file, "model.vocab: token \"\(tok)\" has a negative id \(id)") }
            try Limits.tokenId.check(id, "\(file): model.vocab: token \"\(tok)\" has id \(id)")
            if let other = v[ExactKey(tok)], other != id {
                throw HalluError.file(file, "model.vocab: token \"\(tok)\" appears twice")
            }
            v[ExactKey(tok)] = id
            maxId = max(maxId, id)
        }
        var names = [String?](repeating: nil, count: maxId + 1)
        for (tok, id) in vocab {
            if names[id] != nil, !(names[id]!.unicodeScalars.elementsEqual(tok.unicodeScalars)) {
                throw HalluError.file(file, "model.vocab: id \(id) is used by both \"\(names[id]!)\" and \"\(tok)\"")
            }
            names[id] = tok
        }
        self.vocab = v
        idToToken = names
        self.unkToken = unkToken
        self.fuseUnk = fuseUnk
        self.byteFallback = byteFallback
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.endOfWordSuffix = endOfWordSuffix
        self.ignoreMerges = ignoreMerges
        if let u = unkToken {
            guard let id = v[ExactKey(u)] else { throw HalluError.file(file, "model.unk_token \"\(u)\" is not in model.vocab") }
            unkId = id
        } else {
            unkId = nil
        }
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(merges.count)
        var mergeIds: [(Int, Int)] = []
        mergeIds.reserveCapacity(merges.count)
        let prefixLen = continuingSubwordPrefix?.unicodeScalars.count ?? 0
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = v[ExactKey(a)], let ib = v[ExactKey(b)] else {
                throw HalluError.file(file, "model.merges[\(rank)]: \"\(a) \(b)\" uses a token that is not in model.vocab")
            }
            // With a continuing-subword prefix the right part loses its prefix when merged.
            var bPart = b
            if prefixLen > 0, let p = continuingSubwordPrefix, b.unicodeScalars.starts(with: p.unicodeScalars) {
                bPart = String(String.UnicodeScalarView(b.unicodeScalars.dropFirst(prefixLen)))
            }
            guard let merged = v[ExactKey(a + bPart)] else {
                throw HalluError.file(file, "model.merges[\(rank)]: result \"\(a + bPart)\" is not in model.vocab")
            }
            let key = UInt64(ia) << 32 | UInt64(ib)
            // A duplicated merge keeps its last rank, as HF's map built from the list does.
            table[key] = UInt64(rank) << 32 | UInt64(merged)
            mergeIds.append((ia, ib))
        }
        mergeTable = PairTable(table)
        self.merges = mergeIds
        var sids: [Unicode.Scalar: Int32] = [:]
        var flat = [Int32](repeating: -1, count: 0x100)
        for (k, id) in v where k.text.unicodeScalars.count == 1 {
            let sc = k.text.unicodeScalars.first!
            if sc.value < 0x10000 {
                if Int(sc.value) >= flat.count { flat += [Int32](repeating: -1, count: Int(sc.value) + 1 - flat.count) }
                flat[Int(sc.value)] = Int32(id)
            } else {
                sids[sc] = Int32(id)
            }
        }
        scalarTable = flat
        scalarIds = sids
        var bytes = [Int32](repeating: -1, count: 256)
        if byteFallback {
            for b in 0..<256 { bytes[b] = v[ExactKey(BPEModel.byteToken(UInt8(b)))].map(Int32.init) ?? -1 }
        }
        byteIds = bytes
    }

    /// The byte-fallback token for `b`, e.g. "<0x0A>".
    static func byteToken(_ b: UInt8) -> String {
        let hex = String(b, radix: 16, uppercase: true)
        return "<0x\(hex.count == 1 ? "0" + hex : hex)>"
    }

    func id(of token: String) -> Int? { vocab[ExactKey(token)] }

    func token(of id: Int) -> String? { id >= 0 && id < idToToken.count ? idToToken[id] : nil }

    var maxId: Int { idToToken.count - 1 }

    // MARK: Encoding

    /// Tokens of one word as flat triples (id, first scalar, end scalar), positions within the word.
    func tokenize(_ word: [Unicode.Scalar]) -> [Int32] {
        if word.isEmpty { return [] }
        let cacheable = word.count <= BPEModel.cacheMaxWordLength
        var key: ScalarsKey? = nil
        if cacheable {
            let k = ScalarsKey(scalars: word)
            key = k
            cacheLock.lock()
            let hit = cache[k]
            cacheLock.unlock()
            if let hit { return hit }
        }
        let result = tokenizeUncached(word)
        if let key {
            cacheLock.lock()
            if cache.count < BPEModel.cacheCapacity { cache[key] = result }
            cacheLock.unlock()
        }
        return result
    }

    private struct Symbol {
        var id: Int32
        var lo: Int32
        var hi: Int32
        var prev: Int32
        var next: Int32
    }

    private func tokenizeUncached(_ word: [Unicode.Scalar]) -> [Int32] {
        if ignoreMerges, let id = vocab[ExactKey(word)] { return [Int32(id), 0, Int32(word.count)] }
        var syms: [Symbol] = []
        syms.reserveCapacity(word.count)
        let plain = continuingSubwordPrefix == nil && endOfWordSuffix == nil
        var k = 0
        while k < word.count {
            let s = word[k]
            var id: Int32? = nil
            if plain {
                if s.value < UInt32(scalarTable.count) {
                    let v = scalarTable[Int(s.value)]
                    id = v >= 0 ? v : nil
                } else {
                    id = scalarIds[s]
                }
            } else {
                var piece = String(s)
                if k > 0, let p = continuingSubwordPrefix { piece = p + piece }
                if k == word.count - 1, let sfx = endOfWordSuffix { piece += sfx }
                id = vocab[ExactKey(piece)].map(Int32.init)
            }
            if let id {
                syms.append(Symbol(id: id, lo: Int32(k), hi: Int32(k + 1), prev: Int32(syms.count - 1), next: -1))
            } else if byteFallback, String(s).utf8.allSatisfy({ byteIds[Int($0)] >= 0 }) {
                for b in String(s).utf8 {
                    syms.append(Symbol(id: byteIds[Int(b)], lo: Int32(k), hi: Int32(k + 1), prev: Int32(syms.count - 1), next: -1))
                }
            } else if let unk = unkId {
                if fuseUnk, let last = syms.last, last.id == Int32(unk), last.hi == Int32(k) {
                    syms[syms.count - 1].hi = Int32(k + 1)
                } else {
                    syms.append(Symbol(id: Int32(unk), lo: Int32(k), hi: Int32(k + 1), prev: Int32(syms.count - 1), next: -1))
                }
            }
            // Without an unk token an unknown scalar is dropped, as HF does.
            k += 1
        }
        for i in 0..<syms.count { syms[i].next = i + 1 < syms.count ? Int32(i + 1) : -1 }
        if syms.count > 1 && !merges.isEmpty { applyMerges(&syms) }
        var out: [Int32] = []
        out.reserveCapacity(syms.count * 3)
        var i: Int32 = syms.isEmpty ? -1 : 0
        while i >= 0 {
            let s = syms[Int(i)]
            out.append(s.id); out.append(s.lo); out.append(s.hi)
            i = s.next
        }
        return out
    }

    /// Repeatedly merges the lowest-rank adjacent pair, leftmost first, until no merge applies.
    private func applyMerges(_ syms: inout [Symbol]) {
        var heap = MergeHeap()
        for i in 0..<(syms.count - 1) {
            if let m = mergeTable.get(UInt64(UInt32(syms[i].id)) << 32 | UInt64(UInt32(syms[i + 1].id))) {
                heap.push(rank: UInt32(m >> 32), pos: Int32(i))
            }
        }
        var alive = [Bool](repeating: true, count: syms.count)
        while let (rank, pos) = heap.pop() {
            let p = Int(pos)
            guard alive[p] else { continue }
            let n = syms[p].next
            guard n >= 0 else { continue }
            guard let m = mergeTable.get(UInt64(UInt32(syms[p].id)) << 32 | UInt64(UInt32(syms[Int(n)].id))),
                  UInt32(m >> 32) == rank else { continue }
            // Merge p and n into p.
            syms[p].id = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
            syms[p].hi = syms[Int(n)].hi
            alive[Int(n)] = false
            let nn = syms[Int(n)].next
            syms[p].next = nn
            if nn >= 0 { syms[Int(nn)].prev = pos }
            let pr = syms[p].prev
            if pr >= 0, let m2 = mergeTable.get(UInt64(UInt32(syms[Int(pr)].id)) << 32 | UInt64(UInt32(syms[p].id))) {
                heap.push(rank: UInt32(m2 >> 32), pos: pr)
            }
            if nn >= 0, let m3 = mergeTable.get(UInt64(UInt32(syms[p].id)) << 32 | UInt64(UInt32(syms[Int(nn)].id))) {
                heap.push(rank: UInt32(m3 >> 32), pos: pos)
            }
        }
        // Relink the survivors so that walking `next` from index 0 visits them in order.
        var compact: [Symbol] = []
        compact.reserveCapacity(syms.count)
        var i: Int32 = 0
        while i >= 0 {
            var s = syms[Int(i)]
            i = s.next
            s.prev = Int32(compact.count - 1)
            s.next = i >= 0 ? Int32(compact.count + 1) : -1
            compact.append(s)
        }
        syms = compact
    }

    // MARK: Saving

    var json: OrderedJSON {
        var vocabEntries: [(String, OrderedJSON)] = []
        vocabEntries.reserveCapacity(vocab.count)
        for (id, tok) in idToToken.enumerated() { if let tok { vocabEntries.append((tok, .int(id))) } }
        // "a b" strings are the widely read form; tokens containing a space need the pair form.
        let names = merges.map { (idToToken[$0.0] ?? "", idToToken[$0.1] ?? "") }
        let needPairs = names.contains { $0.0.unicodeScalars.contains(" ") || $0.1.unicodeScalars.contains(" ") }
        let mergeJSON: [OrderedJSON] = names.map {
            needPairs ? .array([.string($0.0), .string($0.1)]) : .string($0.0 + " " + $0.1)
        }
        func opt(_ s: String?) -> OrderedJSON { s.map { .string($0) } ?? .null }
        return .object([
            ("type", .string("BPE")), ("dropout", .null), ("unk_token", opt(unkToken)),
            ("continuing_subword_prefix", opt(continuingSubwordPrefix)), ("end_of_word_suffix", opt(endOfWordSuffix)),
            ("fuse_unk", .bool(fuseUnk)), ("byte_fallback", .bool(byteFallback)), ("ignore_merges", .bool(ignoreMerges)),
            ("vocab", .object(vocabEntries)), ("merges", .array(mergeJSON)),
        ])
    }

    // MARK: Loading

    static func load(_ s: JSONSection) throws -> BPEModel {
        if let type = try s.optionalString("type"), type != "BPE" {
            throw s.fail("unsupported model type \"\(type)\" (only BPE is supported)")
        }
        if s.optional("type") == nil && !s.has("merges") {
            throw s.fail("unsupported model: no \"type\" and no \"merges\" (only BPE is supported)")
        }
        if let d = s.optional("dropout") {
            if case let .number(p) = d, p > 0 { throw s.fail("BPE dropout \(p) is not supported (encoding must be deterministic)") }
            if case let .int(p) = d, p > 0 { throw s.fail("BPE dropout \(p) is not supported (encoding must be deterministic)") }
        }
        let vocab = try s.section("vocab").entries().map { ($0.0, try $0.1.asInt()) }
        var merges: [(String, String)] = []
        for item in try s.section("merges").items() {
            switch item.value {
            case let .string(m):
                // Split on scalars: a space followed by a combining mark is one Character.
                let parts = m.unicodeScalars.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw item.fail("merge \"\(m)\" is not two tokens separated by a space") }
                merges.append((ExactKey(parts[0]).text, ExactKey(parts[1]).text))
            case let .array(pair):
                guard pair.count == 2, case let .string(a) = pair[0], case let .string(b) = pair[1] else {
                    throw item.fail("a merge must be a pair of two strings")
                }
                merges.append((a, b))
            default:
                throw item.fail("a merge must be \"a b\" or [\"a\", \"b\"]")
            }
        }
        return try BPEModel(vocab: vocab, merges: merges, unkToken: try s.optionalString("unk_token"),
                            fuseUnk: try s.bool("fuse_unk", default: false),
                            byteFallback: try s.bool("byte_fallback", default: false),
                            continuingSubwordPrefix: try s.optionalString("continuing_subword_prefix"),
                            endOfWordSuffix: try s.optionalString("end_of_word_suffix"),
                            ignoreMerges: try s.bool("ignore_merges", default: false), file: s.file)
    }
}

/// Min-heap of (rank, position) for the merge loop, packed in one integer: lowest rank first, then
/// the leftmost position.
struct MergeHeap {
    private var heap = MinHeap<UInt64>()

    mutating func push(rank: UInt32, pos: Int32) { heap.push(UInt64(rank) << 32 | UInt64(UInt32(pos))) }

    mutating func pop() -> (UInt32, Int32)? {
        heap.pop().map { (UInt32($0 >> 32), Int32(bitPattern: UInt32($0 & 0xFFFF_FFFF))) }
    }
}

/// Open-addressing map from a merge pair to (rank << 32 | merged id), with a multiplicative hash:
/// the merge loop's lookups are the hot path, and SipHash-based Dictionary costs several times more.
struct PairTable {
    private let keys: [UInt64]
    private let values: [UInt64]
    private let shift: UInt64
    private let mask: Int
    private static let empty = UInt64.max

    init(_ dict: [UInt64: UInt64]) {
        var bits = 4
        while (1 << bits) < dict.count * 2 + 1 { bits += 1 }
        let size = 1 << bits
        var k = [UInt64](repeating: PairTable.empty, count: size)
        var v = [UInt64](repeating: 0, count: size)
        shift = UInt64(64 - bits)
        mask = size - 1
        for (key, value) in dict {
            var i = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while k[i] != PairTable.empty { i = (i + 1) & mask }
            k[i] = key
            v[i] = value
        }
        keys = k
        values = v
    }

    @inline(__always) func get(_ key: UInt64) -> UInt64? {
        var i = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == PairTable.empty { return nil }
            i = (i + 1) & mask
        }
    }
}
