import Foundation

/// One option a method accepts, shown by `hallu plugins` and `hallu run --method X --help`, and set
/// with `--set <method>.<name>=<value>`.
public struct MethodOption: Codable, Equatable {
    public var name: String
    public var defaultValue: String
    public var help: String
    public init(_ name: String, _ defaultValue: String, _ help: String) {
        self.name = name; self.defaultValue = defaultValue; self.help = help
    }
    enum CodingKeys: String, CodingKey { case name, defaultValue = "default", help }
}

/// What a loss returns: the scalar to minimise and named metrics to log (averaged per optimiser step).
public struct LossOutput {
    public var loss: Tensor
    public var metrics: [String: Double]
    public init(loss: Tensor, metrics: [String: Double] = [:]) { self.loss = loss; self.metrics = metrics }
}

/// A token-level training objective over supervised logits `[N, V]` and targets `[N]`. Plain
/// cross-entropy by default; a method may supply its own, which every method's SFT term then uses.
public protocol TokenObjective: AnyObject {
    /// A short name for logs.
    var name: String { get }
    /// The mean loss over the supervised rows.
    func loss(logits: Tensor, targets: [Int]) throws -> Tensor
}

/// Plain next-token cross-entropy.
public final class CrossEntropyObjective: TokenObjective {
    public init() {}
    public var name: String { "cross-entropy" }
    public func loss(logits: Tensor, targets: [Int]) throws -> Tensor { try Tensor.crossEntropy(logits, targets: targets) }
}

/// A training method: a paper's technique as a plugin. Class-bound and free of associated types, so
/// that only CoreRuntime types cross the plugin boundary.
public protocol Method: AnyObject {
    /// The name used on the command line, e.g. "sft".
    var id: String { get }
    /// One line for `hallu plugins`.
    var summary: String { get }
    /// Options with defaults and help.
    var options: [MethodOption] { get }
    /// The sample kinds this method trains on.
    var dataKinds: [DataKind] { get }
    /// Its own run settings (lr, steps or epochs, batch size, LoRA), from its paper scaled to the
    /// run; a config file, flags and `--set` override them.
    var runDefaults: RunDefaults { get }

    /// Receives the resolved option values (defaults overridden by `--set id.name=value`).
    func configure(_ values: [String: String]) throws
    /// Work before training: reference log-probs, data scoring and filtering, extra parameters.
    func prepare(_ context: TrainContext) throws
    /// The loss on one micro-batch.
    func loss(_ batch: Batch, _ context: TrainContext) throws -> LossOutput

    /// A token objective that replaces cross-entropy in every SFT term (at most one per run).
    var tokenObjective: TokenObjective? { get }
    /// Decoding hooks for evaluation-time generation (they compose with a `--decode` method's).
    func decodingHooks(_ context: TrainContext) throws -> [DecodingHook]
    /// Parameters the method adds (projection heads, temperatures); trained and checkpointed with the model.
    func extraParameters() -> [(String, Tensor)]
    /// Called after every optimiser step.
    func didStep(_ step: Int, _ context: TrainContext) throws
    /// Filters or rewrites the training data before batching (e.g. a method that drops samples).
    func transformData(_ data: TrainingData, _ context: TrainContext) throws -> TrainingData
    /// Extra evaluation numbers for the run summary (e.g. a contrastive method's retrieval accuracy).
    func evaluate(_ context: TrainContext) throws -> [String: Double]
}

extension Method {
    public var options: [MethodOption] { [] }
    public var runDefaults: RunDefaults { RunDefaults() }
    public func configure(_ values: [String: String]) throws {}
    public func prepare(_ context: TrainContext) throws {}
    public var tokenObjective: TokenObjective? { nil }
    public func decodingHooks(_ context: TrainContext) throws -> [DecodingHook] { [] }
    public func extraParameters() -> [(String, Tensor)] { [] }
    public func didStep(_ step: Int, _ context: TrainContext) throws {}
    public func transformData(_ data: TrainingData, _ context: TrainContext) throws -> TrainingData { data }
    public func evaluate(_ context: TrainContext) throws -> [String: Double] { [:] }
}

/// Parsing helpers for option values, with errors that name the option.
public struct OptionValues {
    public let method: String
    public let values: [String: String]
    public init(method: String, values: [String: String]) { self.method = method; self.values = values }

    public func string(_ name: String) -> String? { values[name] }
    public func double(_ name: String) throws -> Double {
        guard let s = values[name], let v = Double(s) else { throw HalluError("\(method).\(name): expected a number, got \"\(values[name] ?? "")\"") }
        return v
    }
    public func float(_ name: String) throws -> Float { Float(try double(name)) }
    public func int(_ name: String) throws -> Int {
        guard let s = values[name], let v = Int(s) else { throw HalluError("\(method).\(name): expected an integer, got \"\(values[name] ?? "")\"") }
        return v
    }
    /// A finite number within the given bounds (`atLeast` or `above` below it, `atMost` or
    /// `below` above it). NaN, infinities and values outside are an error that names the option
    /// and the interval, e.g. `method.rate: must be a finite number in (0, 1], got 2`.
    public func double(_ name: String, atLeast: Double? = nil, above: Double? = nil,
                       atMost: Double? = nil, below: Double? = nil) throws -> Double {
        let v = try double(name)
        let inside = v.isFinite && atLeast.map { v >= $0 } ?? true && above.map { v > $0 } ?? true
            && atMost.map { v <= $0 } ?? true && below.map { v < $0 } ?? true
        guard inside else {
            let lower = atLeast.map { ("[", $0) } ?? above.map { ("(", $0) }
            let upper = atMost.map { ($0, "]") } ?? below.map { ($0, ")") }
            throw outside(name, "a finite number", lower: lower, upper: upper)
        }
        return v
    }

    /// `double(_:atLeast:above:atMost:below:)` as a Float; a value too large for a Float is refused.
    public func float(_ name: String, atLeast: Float? = nil, above: Float? = nil,
                      atMost: Float? = nil, below: Float? = nil) throws -> Float {
        let v = Float(try double(name, atLeast: atLeast.map(Double.init), above: above.map(Double.init),
                                 atMost: atMost.map(Double.init), below: below.map(Double.init)))
        guard v.isFinite else { throw HalluError("\(method).\(name): \(values[name]!) is too large") }
        return v
    }

    /// An integer in `range`, e.g. `method.window: must be an integer in [0, 1000000], got -1`.
    public func int(_ name: String, in range: ClosedRange<Int>) throws -> Int {
        let v = try int(name)
        guard range.contains(v) else {
            throw outside(name, "an integer", lower: ("[", Double(range.lowerBound)),
                          upper: range.upperBound == .max ? nil : (Double(range.upperBound), "]"))
        }
        return v
    }

    private func outside(_ name: String, _ what: String, lower: (String, Double)?, upper: (Double, String)?) -> HalluError {
        func number(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x) }
        let interval: String
        switch (lower, upper) {
        case let (l?, u?): interval = " in \(l.0)\(number(l.1)), \(number(u.0))\(u.1)"
        case let (l?, nil): interval = l.0 == "[" ? " >= \(number(l.1))" : " above \(number(l.1))"
        case let (nil, u?): interval = u.1 == "]" ? " <= \(number(u.0))" : " below \(number(u.0))"
        case (nil, nil): interval = ""
        }
        return HalluError("\(method).\(name): must be \(what)\(interval), got \(values[name] ?? "")")
    }

    public func bool(_ name: String) throws -> Bool {
        switch values[name]?.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw HalluError("\(method).\(name): expected true or false, got \"\(values[name] ?? "")\"")
        }
    }
    /// Resolves defaults, then overrides; unknown names are an error that lists the known ones.
    public static func resolve(_ options: [MethodOption], overrides: [String: String], method: String) throws -> [String: String] {
        var out = Dictionary(uniqueKeysWithValues: options.map { ($0.name, $0.defaultValue) })
        for (k, v) in overrides {
            guard out[k] != nil else {
                let known = options.map(\.name).joined(separator: ", ")
                let hint = Suggest.nearest(k, in: options.map(\.name)).map { " (did you mean \"\($0)\"?)" } ?? ""
                throw HalluError("\(method): unknown option \"\(k)\"\(hint); known: \(known.isEmpty ? "none" : known)")
            }
            out[k] = v
        }
        return out
    }
}

/// Nearest-name suggestions for typos in flags and options.
public enum Suggest {
    /// The candidate with the smallest edit distance, if it is close enough to be a plausible typo.
    public static func nearest(_ word: String, in candidates: [String]) -> String? {
        let best = candidates.map { ($0, distance(word, $0)) }.min { $0.1 < $1.1 }
        guard let best, best.1 <= max(2, word.count / 3) else { return nil }
        return best.0
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var prev = Array(0...y.count)
        for i in 1...x.count {
            var cur = [i] + Array(repeating: 0, count: y.count)
            for j in 1...y.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[y.count]
    }
}
