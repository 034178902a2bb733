import Foundation

/// Samples of several kinds, each an array of its own `Sample` type. The training data of a run (which
/// methods may filter or rewrite before batching) and one micro-batch of it have this shape.
public struct SampleSet {
    /// The kinds present, in the order they were first set.
    public private(set) var kinds: [DataKind] = []
    private var lists: [DataKind: any SampleList] = [:]

    public init(conversations: [Conversation] = [], preferences: [PreferencePair] = [], contrastive: [ContrastiveExample] = [],
                detection: [DetectionExample] = []) {
        if !conversations.isEmpty { self.conversations = conversations }
        if !preferences.isEmpty { self.preferences = preferences }
        if !contrastive.isEmpty { self.contrastive = contrastive }
        if !detection.isEmpty { self.detection = detection }
    }

    /// The samples of a kind as their own type; empty when there are none (or they are of another type).
    public subscript<T: Sample>(_ kind: DataKind, as type: T.Type = T.self) -> [T] {
        get { lists[kind] as? [T] ?? [] }
        set { set(kind, newValue) }
    }

    /// The samples of a kind, type-erased.
    public func list(_ kind: DataKind) -> (any SampleList)? { lists[kind] }

    /// Replaces the samples of a kind.
    public mutating func set(_ kind: DataKind, _ list: any SampleList) {
        if lists[kind] == nil { kinds.append(kind) }
        lists[kind] = list
    }

    /// Adds samples to a kind (of the same type as those already there).
    public mutating func append(_ kind: DataKind, _ list: any SampleList) throws {
        if let old = lists[kind] {
            do { lists[kind] = try old.appending(list) } catch let e as HalluError { throw HalluError("\(kind): \(e.message)") }
        } else {
            set(kind, list)
        }
    }

    /// Number of samples of a kind.
    public func count(_ kind: DataKind) -> Int { lists[kind]?.count ?? 0 }

    /// A cheap length per sample of a kind (bytes of its text), for length-grouped batches.
    public func lengths(_ kind: DataKind) -> [Int] { lists[kind]?.lengths ?? [] }

    /// Sample ids, kind by kind.
    public var ids: [String] { kinds.flatMap { lists[$0]?.sampleIds ?? [] } }

    /// LLaVA conversations (`DataKind.sft`).
    public var conversations: [Conversation] { get { self[.sft] } set { self[.sft] = newValue } }
    /// Preference pairs (`DataKind.preference`).
    public var preferences: [PreferencePair] { get { self[.preference] } set { self[.preference] = newValue } }
    /// Captions with hallucinated versions (`DataKind.contrastive`).
    public var contrastive: [ContrastiveExample] { get { self[.contrastive] } set { self[.contrastive] = newValue } }
    /// Sentence-labelled responses (`DataKind.detection`).
    public var detection: [DetectionExample] { get { self[.detection] } set { self[.detection] = newValue } }
}

/// The training samples of a run, by kind. Methods may filter or rewrite it before batching.
public typealias TrainingData = SampleSet

/// One micro-batch: a slice of each kind the method(s) need and, for kinds that declare a collation
/// (`DataKindSpec`), what it made of the slice.
public struct Batch {
    public var samples = SampleSet()
    /// Collated forms by kind.
    public var collated: [DataKind: Any] = [:]

    public init() {}

    public subscript<T: Sample>(_ kind: DataKind, as type: T.Type = T.self) -> [T] {
        get { samples[kind] }
        set { samples[kind] = newValue }
    }
    public var conversations: [Conversation] { get { samples.conversations } set { samples.conversations = newValue } }
    public var preferences: [PreferencePair] { get { samples.preferences } set { samples.preferences = newValue } }
    public var contrastive: [ContrastiveExample] { get { samples.contrastive } set { samples.contrastive = newValue } }

    /// What a kind's collation made of this batch's samples of that kind.
    public func collated<C>(_ kind: DataKind, as type: C.Type = C.self) throws -> C {
        guard let value = collated[kind] else { throw HalluError("the batch has no collated \(kind) samples (does the kind declare a collation, and does the method list it?)") }
        guard let typed = value as? C else { throw HalluError("collated \(kind) samples are \(Swift.type(of: value)), not \(C.self)") }
        return typed
    }

    /// Sample ids, for error messages (a NaN loss names the batch).
    public var ids: [String] { samples.ids }
}

/// A reproducible, resumable order over one kind of sample: a seeded shuffle per epoch and a cursor.
/// With `groupBatch` and `lengths`, consecutive runs of `groupBatch` indices hold samples of similar
/// length. The order of the current epoch is saved with the cursor, so a resumed run continues it
/// exactly; lengths are not saved (the trainer supplies them again).
public struct SampleStream: Codable, Equatable {
    public var count: Int
    public var seed: UInt64
    public var epoch = 0
    public var position = 0
    /// Batch size of length-grouped batches; nil means a plain shuffle.
    public var groupBatch: Int?
    private var order: [Int] = []
    /// Per-sample lengths for grouping.
    var lengths: [Int]? = nil

    enum CodingKeys: String, CodingKey { case count, seed, epoch, position, groupBatch = "group_batch", order }

    /// Windows of this many batches are sorted by length (Hugging Face's mega-batch factor).
    static let groupWindow = 50

    public init(count: Int, seed: UInt64, groupBatch: Int? = nil, lengths: [Int]? = nil) {
        self.count = count
        self.seed = seed
        self.groupBatch = groupBatch
        self.lengths = lengths
        reshuffle()
    }

    private mutating func reshuffle() {
        order = Array(0..<count)
        var rng = SeededRNG(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
        rng.shuffle(&order)
        if let b = groupBatch, b > 1, let lengths, lengths.count == count { groupByLength(batch: b, lengths: lengths, rng: &rng) }
    }

    /// Sorts each shuffled window of `groupWindow` batches by length (longest first, ties by
    /// position), cuts it into batches and shuffles the batches within the window.
    private mutating func groupByLength(batch b: Int, lengths: [Int], rng: inout SeededRNG) {
        var grouped: [Int] = []
        grouped.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: b * Self.groupWindow) {
            let window = order[start..<min(start + b * Self.groupWindow, count)]
            let sorted = window.enumerated().sorted { (lengths[$0.element], -$0.offset) > (lengths[$1.element], -$1.offset) }.map(\.element)
            var batches = stride(from: 0, to: sorted.count, by: b).map { Array(sorted[$0..<min($0 + b, sorted.count)]) }
            rng.shuffle(&batches)
            grouped += batches.joined()
        }
        order = grouped
    }

    /// The next `n` indices, crossing epoch boundaries.
    public mutating func next(_ n: Int) -> [Int] {
        guard count > 0 else { return [] }
        var out: [Int] = []
        while out.count < n {
            if position >= count { epoch += 1; position = 0; reshuffle() }
            out.append(order[position])
            position += 1
        }
        return out
    }

    /// Whether a stream read back from a checkpoint fits `dataCount` samples: its order a permutation
    /// of them and its position inside it (a damaged state would index past the data).
    public func fits(dataCount: Int) -> Bool {
        guard count == dataCount, epoch >= 0, position >= 0, position <= count, order.count == count else { return false }
        if let b = groupBatch, b < 1 { return false }
        var seen = [Bool](repeating: false, count: count)
        for i in order {
            guard i >= 0, i < count, !seen[i] else { return false }
            seen[i] = true
        }
        return true
    }

    /// Samples consumed so far, as a fraction of epochs.
    public var epochsDone: Double { Double(epoch) + Double(position) / Double(max(count, 1)) }
}
