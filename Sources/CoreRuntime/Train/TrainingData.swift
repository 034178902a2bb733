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
public struct SampleStream: Codable, Equatable {
    public var count: Int
    public var seed: UInt64
    public var epoch = 0
    public var position = 0
    private var order: [Int] = []

    public init(count: Int, seed: UInt64) {
        self.count = count
        self.seed = seed
        reshuffle()
    }

    private mutating func reshuffle() {
        order = Array(0..<count)
        var rng = SeededRNG(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
        rng.shuffle(&order)
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

    /// Samples consumed so far, as a fraction of epochs.
    public var epochsDone: Double { Double(epoch) + Double(position) / Double(max(count, 1)) }
}
