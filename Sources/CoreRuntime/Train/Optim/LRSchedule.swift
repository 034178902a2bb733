import Foundation

/// How the learning rate moves after warmup, as a factor of each group's base rate.
///
/// Each case reproduces a Hugging Face `transformers` schedule exactly (computed in Double):
/// - `constant`: `get_constant_schedule_with_warmup`;
/// - `linear`: `get_linear_schedule_with_warmup` (decays to 0 at `totalSteps`, stays 0 after);
/// - `cosine(minRatio:)`: `get_cosine_schedule_with_warmup` when `minRatio` is 0, and
///   `get_cosine_with_min_lr_schedule_with_warmup(min_lr_rate: minRatio)` otherwise: the half cosine is
///   squeezed into `[minRatio, 1]`, so the rate ends at `minRatio` times the base rate instead of 0.
///   Like transformers, the cosine is not clamped past `totalSteps` (it rises again).
///
/// In JSON a schedule is `"constant"`, `"linear"`, `"cosine"`, or `{"cosine": {"minRatio": 0.1}}`.
public enum LRSchedule: Codable, Equatable, Sendable {
    case constant
    case linear
    case cosine(minRatio: Float)

    /// Cosine decay to 0, the LLaVA recipes' schedule.
    public static var cosine: LRSchedule { .cosine(minRatio: 0) }

    /// The factor for the update after `step` updates have been made (0 for the first update, as the
    /// Hugging Face trainer steps its scheduler after the optimiser). During warmup it rises linearly from
    /// 0: `step / warmupSteps`.
    public func factor(step: Int, totalSteps: Int, warmupSteps: Int) -> Float {
        if step < warmupSteps { return Float(Double(step) / Double(max(1, warmupSteps))) }
        switch self {
        case .constant:
            return 1
        case .linear:
            return Float(max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps))))
        case .cosine(let minRatio):
            let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            let half = 0.5 * (1 + Foundation.cos(Double.pi * 0.5 * 2 * progress))
            let ratio = Double(minRatio)
            return Float(max(0, half * (1 - ratio) + ratio))
        }
    }

    /// The factor with warmup given as steps or as a ratio of `totalSteps`.
    public func factor(step: Int, totalSteps: Int, warmup: Warmup) -> Float {
        factor(step: step, totalSteps: totalSteps, warmupSteps: warmup.steps(totalSteps: totalSteps))
    }

    /// Parses a command-line value: `constant`, `linear`, `cosine`, or `cosine:<minRatio>` (0 <= minRatio <= 1).
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        switch (parts.first ?? "", parts.count) {
        case ("constant", 1): self = .constant
        case ("linear", 1): self = .linear
        case ("cosine", 1): self = .cosine
        case ("cosine", 2):
            guard let r = Float(parts[1]), r >= 0, r <= 1 else {
                throw HalluError("learning-rate schedule \"\(text)\": the minimum ratio after \"cosine:\" must be a number in [0, 1]")
            }
            self = .cosine(minRatio: r)
        default:
            throw HalluError("learning-rate schedule \"\(text)\": expected constant, linear, cosine or cosine:<minRatio>")
        }
    }

    private enum Keys: String, CodingKey { case constant, linear, cosine }
    private enum CosineKeys: String, CodingKey { case minRatio }

    public init(from decoder: Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let name = try? single.decode(String.self) {
            do { try self.init(parsing: name) } catch {
                throw DecodingError.dataCorruptedError(in: single, debugDescription: "\(error)")
            }
            return
        }
        let c = try decoder.container(keyedBy: Keys.self)
        guard c.allKeys.count == 1, let key = c.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "a schedule is \"constant\", \"linear\", \"cosine\" or {\"cosine\": {\"minRatio\": r}}"))
        }
        switch key {
        case .constant: self = .constant
        case .linear: self = .linear
        case .cosine:
            let inner = try c.nestedContainer(keyedBy: CosineKeys.self, forKey: .cosine)
            let r = try inner.decodeIfPresent(Float.self, forKey: .minRatio) ?? 0
            guard r >= 0, r <= 1 else {
                throw DecodingError.dataCorruptedError(forKey: .minRatio, in: inner, debugDescription: "minRatio \(r) must lie in [0, 1]")
            }
            self = .cosine(minRatio: r)
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .constant:
            var c = encoder.singleValueContainer()
            try c.encode("constant")
        case .linear:
            var c = encoder.singleValueContainer()
            try c.encode("linear")
        case .cosine(let r) where r == 0:
            var c = encoder.singleValueContainer()
            try c.encode("cosine")
        case .cosine(let r):
            var c = encoder.container(keyedBy: Keys.self)
            var inner = c.nestedContainer(keyedBy: CosineKeys.self, forKey: .cosine)
            try inner.encode(r, forKey: .minRatio)
        }
    }
}

/// The warmup length, as a number of updates or as a fraction of the run.
///
/// In JSON: `{"steps": 100}`, `{"ratio": 0.03}`, or a bare number read as transformers reads its
/// `warmup_steps` argument (>= 1 is a step count, below 1 a ratio).
public enum Warmup: Codable, Equatable, Sendable {
    case steps(Int)
    case ratio(Double)

    /// No warmup.
    public static let none = Warmup.steps(0)

    /// The warmup in updates: a ratio becomes `ceil(totalSteps * ratio)`, as in transformers'
    /// `TrainingArguments.get_warmup_steps`.
    public func steps(totalSteps: Int) -> Int {
        switch self {
        case .steps(let n): return max(0, n)
        case .ratio(let r): return max(0, Int(Foundation.ceil(Double(totalSteps) * r)))
        }
    }

    private enum Keys: String, CodingKey { case steps, ratio }

    public init(from decoder: Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let x = try? single.decode(Double.self) {
            guard x.isFinite, x >= 0 else {
                throw DecodingError.dataCorruptedError(in: single, debugDescription: "warmup \(x) must be >= 0")
            }
            if x >= 1 {
                guard x.rounded() == x, x < Double(Int32.max) else {
                    throw DecodingError.dataCorruptedError(in: single, debugDescription: "warmup \(x) >= 1 must be a whole number of steps")
                }
                self = .steps(Int(x))
            } else {
                self = .ratio(x)
            }
            return
        }
        let c = try decoder.container(keyedBy: Keys.self)
        guard c.allKeys.count == 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "warmup is a number, {\"steps\": n} or {\"ratio\": r}"))
        }
        if c.contains(.steps) {
            let n = try c.decode(Int.self, forKey: .steps)
            guard n >= 0 else { throw DecodingError.dataCorruptedError(forKey: .steps, in: c, debugDescription: "warmup steps \(n) must be >= 0") }
            self = .steps(n)
        } else {
            let r = try c.decode(Double.self, forKey: .ratio)
            guard r.isFinite, r >= 0, r <= 1 else {
                throw DecodingError.dataCorruptedError(forKey: .ratio, in: c, debugDescription: "warmup ratio \(r) must lie in [0, 1]")
            }
            self = .ratio(r)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case .steps(let n): try c.encode(n, forKey: .steps)
        case .ratio(let r): try c.encode(r, forKey: .ratio)
        }
    }
}
