import Foundation

/// One POPE question as POPE's question files hold it.
public struct POPEQuestionRecord: Equatable, Sendable {
    public var questionId: Int
    public var image: String
    public var text: String
    /// "yes" or "no".
    public var label: String
    /// The object asked about (not in POPE's files; kept for tests and stats).
    public var object: String
}

/// POPE's negative-sampling strategies.
public enum POPEStrategy: String, Sendable, CaseIterable { case random, popular, adversarial }

/// Builds POPE question sets by POPE's own rules (RUCAIBox/POPE `utils.py`): images with at least
/// `sampleNum` objects; per image the first `sampleNum` listed objects are the positives, each
/// followed by one negative that is neither in the image nor asked before about it:
/// random = uniform over every object seen in the images; popular = the most frequent such object;
/// adversarial = the object co-occurring most often with that positive, else random. Frequency and
/// co-occurrence ties keep first-seen order, as Python's stable sort does.
public struct POPEBuilder {
    /// Images as (image path, object names in ground-truth order).
    public let images: [(image: String, objects: [String])]
    public let sampleNum: Int
    /// Objects in first-seen order, with how many images hold them.
    public let frequency: [(String, Int)]
    /// For each object, co-occurring objects sorted by count (descending, ties first-seen).
    public let coOccurrence: [String: [String]]

    public init(images: [(image: String, objects: [String])], sampleNum: Int = 3) {
        let kept = images.filter { $0.objects.count >= sampleNum }
        self.images = kept
        self.sampleNum = sampleNum
        var order: [String] = []
        var count: [String: Int] = [:]
        var co: [String: (order: [String], count: [String: Int])] = [:]
        for img in kept {
            for o in img.objects {
                if count[o] == nil { order.append(o) }
                count[o, default: 0] += 1
                if co[o] == nil { co[o] = ([], [:]) }
                for other in img.objects where other != o {
                    if co[o]!.count[other] == nil { co[o]!.order.append(other) }
                    co[o]!.count[other, default: 0] += 1
                }
            }
        }
        frequency = order.map { ($0, count[$0]!) }
        var sorted: [String: [String]] = [:]
        for (o, entry) in co {
            sorted[o] = Self.stableSortDescending(entry.order) { entry.count[$0]! }
        }
        coOccurrence = sorted
    }

    static func stableSortDescending(_ items: [String], by key: (String) -> Int) -> [String] {
        items.enumerated().sorted { a, b in
            let ka = key(a.element), kb = key(b.element)
            return ka != kb ? ka > kb : a.offset < b.offset
        }.map(\.element)
    }

    /// Objects by frequency (descending, ties first-seen).
    public var popularOrder: [String] {
        let keys = Dictionary(uniqueKeysWithValues: frequency)
        return Self.stableSortDescending(frequency.map(\.0)) { keys[$0]! }
    }

    /// The question list for one strategy; `rng` drives the random choices.
    public func build(_ strategy: POPEStrategy, rng: inout WorldRNG) throws -> [POPEQuestionRecord] {
        let all = frequency.map(\.0)
        let popular = popularOrder
        var out: [POPEQuestionRecord] = []
        var qid = 1
        for img in images {
            var asked: [String] = []
            func isFree(_ o: String) -> Bool { !asked.contains(o) && !img.objects.contains(o) }
            func randomNegative(_ rng: inout WorldRNG) throws -> String {
                let candidates = all.filter(isFree)
                guard !candidates.isEmpty else {
                    throw HalluError("POPE: no object left to ask about for \(img.image); the world needs more categories")
                }
                // POPE redraws uniformly over all objects until one is free; drawing uniformly
                // among the free ones is the same distribution.
                return rng.pick(candidates)
            }
            for i in 0..<sampleNum {
                let pos = img.objects[i]
                asked.append(pos)
                out.append(record(qid, img.image, pos, "yes")); qid += 1
                let neg: String
                switch strategy {
                case .random: neg = try randomNegative(&rng)
                case .popular:
                    if let p = popular.first(where: isFree) { neg = p } else { neg = try randomNegative(&rng) }
                case .adversarial:
                    if let a = coOccurrence[pos]?.first(where: isFree) { neg = a } else { neg = try randomNegative(&rng) }
                }
                asked.append(neg)
                out.append(record(qid, img.image, neg, "no")); qid += 1
            }
        }
        return out
    }

    private func record(_ id: Int, _ image: String, _ object: String, _ label: String) -> POPEQuestionRecord {
        POPEQuestionRecord(questionId: id, image: image, text: WorldWriter.question(object), label: label, object: object)
    }
}
