import Foundation

/// The training samples of a run, by kind. Methods may filter or rewrite it before batching.
public struct TrainingData {
    public var conversations: [Conversation] = []
    public var preferences: [PreferencePair] = []
    public var contrastive: [ContrastiveExample] = []
    public init(conversations: [Conversation] = [], preferences: [PreferencePair] = [], contrastive: [ContrastiveExample] = []) {
        self.conversations = conversations; self.preferences = preferences; self.contrastive = contrastive
    }

    /// Number of samples of a kind.
    public func count(_ kind: DataKind) -> Int {
        switch kind {
        case .sft: return conversations.count
        case .preference: return preferences.count
        case .contrastive: return contrastive.count
        default: return 0
        }
    }

    /// A cheap length per sample of a kind (characters of its text), for length-grouped batches.
    public func lengths(_ kind: DataKind) -> [Int] {
        switch kind {
        case .sft: return conversations.map { $0.turns.reduce(0) { $0 + $1.value.utf8.count } }
        case .preference: return preferences.map { $0.prompt.utf8.count + max($0.chosen.utf8.count, $0.rejected.utf8.count) }
        case .contrastive: return contrastive.map { $0.prompt.utf8.count + $0.caption.utf8.count }
        default: return []
        }
    }
}

/// One micro-batch: a slice of each kind the method(s) need.
public struct Batch {
    public var conversations: [Conversation] = []
    public var preferences: [PreferencePair] = []
    public var contrastive: [ContrastiveExample] = []
    /// Sample ids, for error messages (a NaN loss names the batch).
    public var ids: [String] {
        conversations.map(\.id) + preferences.map(\.id) + contrastive.map(\.id)
    }
    public init() {}
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
