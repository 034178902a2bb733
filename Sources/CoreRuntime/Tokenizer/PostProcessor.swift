/// Ids and the input spans they cover, as encoding builds them.
struct TokenRun {
    var ids: [Int] = []
    /// Scalar offsets into the input; tokens the post-processor adds get an empty range.
    var offsets: [Range<Int>] = []

    mutating func append(_ id: Int, _ span: Range<Int>) {
        ids.append(id)
        offsets.append(span)
    }
}

/// Final stage of encoding: wraps a single sequence in the model's special tokens (HF "post_processor").
protocol PostProcessor {
    /// Adds the special tokens around `run`.
    func process(_ run: TokenRun) -> TokenRun
    /// How many ids `process` adds to a single sequence.
    var addedCount: Int { get }
    var json: OrderedJSON { get }
}

enum PostProcessors {
    static func make(_ s: JSONSection) throws -> PostProcessor {
        let type = try s.typeName()
        switch type {
        case "TemplateProcessing": return try TemplatePostProcessor(s)
        case "ByteLevel": return PassThroughPostProcessor(json: s.value)
        case "BertProcessing", "RobertaProcessing":
            func pair(_ key: String) throws -> Int {
                let items = try s.section(key).items()
                guard items.count == 2 else { throw s.fail("\(key) must be [token, id]") }
                return try items[1].asInt()
            }
            return WrapPostProcessor(prefix: [try pair("cls")], suffix: [try pair("sep")], json: s.value)
        case "Sequence":
            return SequencePostProcessor(steps: try s.section("processors").items().map(make))
        default:
            throw s.fail("unsupported post_processor \"\(type)\" (supported: TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence)")
        }
    }
}

/// HF's TemplateProcessing for single sequences: a list of special tokens and the sequence "$A".
struct TemplatePostProcessor: PostProcessor {
    /// nil stands for the sequence itself.
    let single: [[Int]?]
    let json: OrderedJSON

    init(_ s: JSONSection) throws {
        var specials: [String: [Int]] = [:]
        if let sp = s.optionalSection("special_tokens") {
            for (name, entry) in try sp.entries() {
                specials[name] = try entry.section("ids").items().map { try $0.asInt() }
            }
        }
        var items: [[Int]?] = []
        for item in try s.section("single").items() {
            if let tok = item.optionalSection("SpecialToken") {
                let name = try tok.string("id")
                guard let ids = specials[name] else {
                    throw tok.fail("special token \"\(name)\" is not listed in post_processor.special_tokens")
                }
                items.append(ids)
            } else if item.has("Sequence") {
                items.append(nil)
            } else {
                throw item.fail("expected {\"SpecialToken\": ...} or {\"Sequence\": ...}")
            }
        }
        single = items
        json = s.value
    }

    /// "<bos> $A" (with `bos` nil: just "$A"), in the layout HF writes.
    init(bosToken: String?, bosId: Int?) {
        func special(_ t: String, _ type: Int) -> OrderedJSON {
            .object([("SpecialToken", .object([("id", .string(t)), ("type_id", .int(type))]))])
        }
        func seq(_ n: String, _ type: Int) -> OrderedJSON {
            .object([("Sequence", .object([("id", .string(n)), ("type_id", .int(type))]))])
        }
        if let b = bosToken, let id = bosId {
            single = [[id], nil]
            json = .object([
                ("type", .string("TemplateProcessing")),
                ("single", .array([special(b, 0), seq("A", 0)])),
                ("pair", .array([special(b, 0), seq("A", 0), special(b, 1), seq("B", 1)])),
                ("special_tokens", .object([(b, .object([("id", .string(b)), ("ids", .array([.int(id)])),
                                                         ("tokens", .array([.string(b)]))]))])),
            ])
        } else {
            single = [nil]
            json = .object([("type", .string("TemplateProcessing")), ("single", .array([seq("A", 0)])),
                            ("pair", .array([seq("A", 0), seq("B", 1)])), ("special_tokens", .object([]))])
        }
    }

    /// The first id the template puts before the sequence, if any (the BOS convention).
    var leadingId: Int? {
        guard let first = single.first, let ids = first, let id = ids.first else { return nil }
        return id
    }

    var addedCount: Int { single.reduce(0) { $0 + ($1?.count ?? 0) } }

    func process(_ run: TokenRun) -> TokenRun {
        var out = TokenRun()
        for item in single {
            if let ids = item {
                let at = out.offsets.last?.upperBound ?? 0
                for id in ids { out.append(id, at..<at) }
            } else {
                out.ids += run.ids
                out.offsets += run.offsets
            }
        }
        return out
    }
}

/// Fixed tokens before and after the sequence (BertProcessing, RobertaProcessing).
struct WrapPostProcessor: PostProcessor {
    let prefix: [Int]
    let suffix: [Int]
    let json: OrderedJSON
    var addedCount: Int { prefix.count + suffix.count }
    func process(_ run: TokenRun) -> TokenRun {
        var out = TokenRun()
        for id in prefix { out.append(id, 0..<0) }
        out.ids += run.ids
        out.offsets += run.offsets
        let end = run.offsets.last?.upperBound ?? 0
        for id in suffix { out.append(id, end..<end) }
        return out
    }
}

/// Post-processors that only adjust offsets in HF (ByteLevel): ids pass unchanged.
struct PassThroughPostProcessor: PostProcessor {
    let json: OrderedJSON
    var addedCount: Int { 0 }
    func process(_ run: TokenRun) -> TokenRun { run }
}

struct SequencePostProcessor: PostProcessor {
    let steps: [PostProcessor]
    var addedCount: Int { steps.reduce(0) { $0 + $1.addedCount } }
    func process(_ run: TokenRun) -> TokenRun { steps.reduce(run) { $1.process($0) } }
    var json: OrderedJSON { .object([("type", .string("Sequence")), ("processors", .array(steps.map(\.json)))]) }
}
