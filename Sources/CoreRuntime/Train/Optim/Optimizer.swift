import Foundation

/// Parameters that share a learning rate and a weight decay, e.g. the language model's LoRA weights in one
/// group and the multimodal projector in another with its own rate (LLaVA's `mm_projector_lr`).
public struct ParamGroup {
    /// A label for logs and error messages ("base", "projector").
    public var name: String
    /// The tensors this group updates, in a fixed order: state names use their index.
    public var params: [Tensor]
    /// The base learning rate; each step multiplies it by the schedule's factor.
    public var lr: Float
    /// Weight decay (decoupled for AdamW, L2 added to the gradient for SGD). 0 turns it off.
    public var weightDecay: Float

    public init(name: String, params: [Tensor], lr: Float, weightDecay: Float = 0) {
        self.name = name
        self.params = params
        self.lr = lr
        self.weightDecay = weightDecay
    }
}

/// Updates parameters in place from their accumulated gradients.
///
/// Conventions shared by every optimiser here, as in PyTorch:
/// - a parameter whose `grad` is nil is skipped entirely (frozen, or unused this step): neither it nor its
///   state changes, and its own step counter does not advance;
/// - per-parameter state is created on the parameter's first update;
/// - `stateArrays()` and `loadState(_:)` carry the complete state, so a run resumed from them continues
///   bit-identically. Names are `group.<g>.param.<i>.<field>` plus `step_count`; scalar counters are stored
///   as rank-0 tensors (exact up to 2^24 steps).
public protocol Optimizer: AnyObject {
    /// The parameter groups, editable between steps (e.g. to change a group's base rate). The next step
    /// re-checks them and drops the state of parameters no longer listed.
    var groups: [ParamGroup] { get set }
    /// One update of every parameter that has a gradient, with each group's rate multiplied by `lrScale`
    /// (the schedule's factor). Throws on a gradient whose size does not match its parameter, a parameter
    /// listed twice, or a negative or non-finite rate.
    func step(lrScale: Float) throws
    /// Drops every parameter's gradient (sets it to nil, so the next backward starts fresh).
    func zeroGrad()
    /// A copy of the full state, keyed by name.
    func stateArrays() -> [String: Tensor]
    /// Replaces the full state with `arrays` (as produced by `stateArrays()` for the same groups). Checks
    /// every name and shape first and changes nothing when one is wrong.
    func loadState(_ arrays: [String: Tensor]) throws
    /// How many times `step` has run.
    var stepCount: Int { get }
}

extension Optimizer {
    /// One update at the groups' base rates.
    public func step() throws { try step(lrScale: 1) }

    public func zeroGrad() {
        for group in groups {
            for p in group.params { p.grad = nil }
        }
    }

    /// Every parameter of every group, in group order.
    public var allParams: [Tensor] { groups.flatMap(\.params) }
}

// MARK: - Shared checks and state plumbing

/// Checks common to every optimiser before it touches any parameter.
enum OptimizerChecks {
    /// What every optimiser does before an update: the lr scale is valid; after the groups changed,
    /// they are valid and the state of tensors no longer in a group is dropped; every gradient is
    /// checked before anything changes, so a bad one leaves the model as it was.
    static func beginStep<S>(_ groups: [ParamGroup], lrScale: Float, state: inout [ObjectIdentifier: S], groupsChanged: inout Bool,
                             owner: String) throws {
        try validate(lrScale: lrScale, owner: owner)
        if groupsChanged {
            try validate(groups, owner: owner)
            let live = Set(groups.flatMap { $0.params.map(ObjectIdentifier.init) })
            state = state.filter { live.contains($0.key) }
            groupsChanged = false
        }
        for (g, group) in groups.enumerated() {
            for (i, p) in group.params.enumerated() {
                if let grad = p.grad { try checkGradient(grad, of: p, group: g, index: i, owner: owner) }
            }
        }
    }

    /// Groups are well formed: rates and decays finite and non-negative, no tensor listed twice.
    static func validate(_ groups: [ParamGroup], owner: String) throws {
        var seen = Set<ObjectIdentifier>()
        for (g, group) in groups.enumerated() {
            guard group.lr.isFinite, group.lr >= 0 else {
                throw HalluError("\(owner): group \(g) (\(group.name)) has learning rate \(group.lr); it must be finite and >= 0")
            }
            guard group.weightDecay.isFinite, group.weightDecay >= 0 else {
                throw HalluError("\(owner): group \(g) (\(group.name)) has weight decay \(group.weightDecay); it must be finite and >= 0")
            }
            for (i, p) in group.params.enumerated() {
                guard seen.insert(ObjectIdentifier(p)).inserted else {
                    throw HalluError("\(owner): parameter \(i) of group \(g) (\(group.name)) appears in more than one place")
                }
            }
        }
    }

    /// The schedule's factor is usable.
    static func validate(lrScale: Float, owner: String) throws {
        guard lrScale.isFinite, lrScale >= 0 else {
            throw HalluError("\(owner): learning-rate scale \(lrScale); it must be finite and >= 0")
        }
    }

    /// The gradient fits its parameter.
    static func checkGradient(_ grad: Tensor, of p: Tensor, group g: Int, index i: Int, owner: String) throws {
        guard grad.count == p.count else {
            throw HalluError("\(owner): gradient of shape \(grad.shape) for parameter \(i) of group \(g) with shape \(p.shape)")
        }
    }
}

/// Names of state arrays and their parsing.
enum OptimizerStateNames {
    /// The step count and each parameter's state (`fields`) under PyTorch's names, for parameters
    /// that have state.
    static func arrays<S>(_ groups: [ParamGroup], _ state: [ObjectIdentifier: S], stepCount: Int,
                          _ fields: (S) -> [(String, Tensor)]) -> [String: Tensor] {
        var out: [String: Tensor] = [Self.stepCount: counter(stepCount)]
        for (g, group) in groups.enumerated() {
            for (i, p) in group.params.enumerated() {
                guard let s = state[ObjectIdentifier(p)] else { continue }
                for (field, t) in fields(s) { out[name(group: g, param: i, field)] = t }
            }
        }
        return out
    }

    static let stepCount = "step_count"

    static func name(group g: Int, param i: Int, _ field: String) -> String { "group.\(g).param.\(i).\(field)" }

    /// Splits `group.<g>.param.<i>.<field>`; nil when the name has another form.
    static func parse(_ name: String) -> (group: Int, param: Int, field: String)? {
        let parts = name.split(separator: ".", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "group", parts[2] == "param",
              let g = Int(parts[1]), let i = Int(parts[3]), g >= 0, i >= 0, !parts[4].isEmpty else { return nil }
        return (g, i, String(parts[4]))
    }

    /// A counter as a rank-0 tensor.
    static func counter(_ n: Int) -> Tensor { Tensor(scalar: Float(n)) }

    /// Reads a counter stored by `counter`, refusing fractions, negatives and non-scalars.
    static func readCounter(_ t: Tensor, name: String, owner: String, minimum: Int) throws -> Int {
        guard t.count == 1 else { throw HalluError("\(owner) state \"\(name)\": expected one value, got shape \(t.shape)") }
        let v = t.item
        guard v.isFinite, v.rounded() == v, v >= Float(minimum), v < 16_777_216 else {
            throw HalluError("\(owner) state \"\(name)\": \(v) is not a whole number >= \(minimum)")
        }
        return Int(v)
    }

    /// The state arrays of one parameter, read back by `collect`.
    struct Loaded {
        let param: Tensor
        /// `group.<g>.param.<i>`, for messages.
        let prefix: String
        var tensors: [String: Tensor] = [:]
        var counters: [String: Int] = [:]

        /// Throws naming every one of `tensorFields` and `counterFields` that is absent.
        func require(_ tensorFields: [String], _ counterFields: [String], owner: String) throws {
            let missing = tensorFields.filter { tensors[$0] == nil } + counterFields.filter { counters[$0] == nil }
            guard missing.isEmpty else {
                throw HalluError("\(owner) state: incomplete, missing " + missing.map { "\"\(prefix).\($0)\"" }.joined(separator: ", "))
            }
        }
    }

    /// Reads `arrays` against the current groups: the step count, then per parameter its tensors (copied, shape
    /// checked against the parameter) and its counters (whole numbers >= 1). Unknown names throw.
    static func collect(_ arrays: [String: Tensor], groups: [ParamGroup], tensorFields: Set<String>,
                        counterFields: Set<String>, owner: String) throws -> (stepCount: Int, params: [ObjectIdentifier: Loaded]) {
        guard let countTensor = arrays[stepCount] else { throw HalluError("\(owner) state: missing \"\(stepCount)\"") }
        let count = try readCounter(countTensor, name: stepCount, owner: owner, minimum: 0)
        var out: [ObjectIdentifier: Loaded] = [:]
        for name in arrays.keys.sorted() where name != stepCount {
            let t = arrays[name]!
            guard let (g, i, field) = parse(name), tensorFields.contains(field) || counterFields.contains(field) else {
                throw HalluError("\(owner) state: unknown array \"\(name)\"")
            }
            guard g < groups.count else {
                throw HalluError("\(owner) state \"\(name)\": there are only \(groups.count) parameter groups")
            }
            guard i < groups[g].params.count else {
                throw HalluError("\(owner) state \"\(name)\": group \(g) (\(groups[g].name)) has only \(groups[g].params.count) parameters")
            }
            let p = groups[g].params[i]
            var entry = out[ObjectIdentifier(p)] ?? Loaded(param: p, prefix: "group.\(g).param.\(i)")
            if tensorFields.contains(field) {
                guard t.shape == p.shape else {
                    throw HalluError("\(owner) state \"\(name)\": shape \(t.shape) does not match the parameter's shape \(p.shape)")
                }
                entry.tensors[field] = t.copy()
            } else {
                entry.counters[field] = try readCounter(t, name: name, owner: owner, minimum: 1)
            }
            out[ObjectIdentifier(p)] = entry
        }
        return (count, out)
    }
}
