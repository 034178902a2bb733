import Foundation

/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight decay,
/// step for step what `torch.optim.SGD` computes:
///
///     d = g + wd * p                          (when wd != 0)
///     b = d on a parameter's first update, else momentum * b + (1 - dampening) * d
///     d = d + momentum * b  (Nesterov)  or  d = b
///     p -= lr * d
///
/// With momentum 0 there is no state. State name: `momentum_buffer`.
public final class SGD: Optimizer {
    public var groups: [ParamGroup] { didSet { groupsChanged = true } }
    public let momentum: Float
    public let dampening: Float
    public let nesterov: Bool
    public private(set) var stepCount = 0

    /// One parameter's momentum buffer. Holds the parameter so its identity stays unique.
    final class ParamState {
        let param: Tensor
        let buffer: Tensor
        init(param: Tensor, buffer: Tensor) {
            self.param = param
            self.buffer = buffer
        }
    }

    private var state: [ObjectIdentifier: ParamState] = [:]
    private var groupsChanged = false
    private let owner = "SGD"

    /// Throws when a group is malformed, momentum or dampening is negative or non-finite, or Nesterov is asked
    /// for without momentum or with dampening (as PyTorch refuses).
    public init(groups: [ParamGroup], momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false) throws {
        guard momentum.isFinite, momentum >= 0 else { throw HalluError("SGD: momentum \(momentum) must be finite and >= 0") }
        guard dampening.isFinite, dampening >= 0 else { throw HalluError("SGD: dampening \(dampening) must be finite and >= 0") }
        if nesterov && (momentum <= 0 || dampening != 0) {
            throw HalluError("SGD: Nesterov momentum needs momentum > 0 and dampening 0 (got \(momentum), \(dampening))")
        }
        try OptimizerChecks.validate(groups, owner: owner)
        self.groups = groups
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
    }

    public func step(lrScale: Float) throws {
        try OptimizerChecks.beginStep(groups, lrScale: lrScale, state: &state, groupsChanged: &groupsChanged, owner: owner)
        for group in groups {
            let negLR = Float(-(Double(group.lr) * Double(lrScale)))
            for p in group.params {
                guard let grad = p.grad else { continue }
                var c = Coefficients(negLR: negLR, weightDecay: group.weightDecay, momentum: momentum,
                                     oneMinusDampening: 1 - dampening, nesterov: nesterov, firstStep: false)
                var buffer: UnsafeMutablePointer<Float>? = nil
                if momentum != 0 {
                    if let s = state[ObjectIdentifier(p)] {
                        buffer = s.buffer.data
                    } else {
                        let s = ParamState(param: p, buffer: Tensor(uninitializedShape: p.shape))
                        state[ObjectIdentifier(p)] = s
                        buffer = s.buffer.data
                        c.firstStep = true
                    }
                }
                SGD.update(p.data, grad.data, buffer, p.count, c)
            }
        }
        stepCount += 1
    }

    struct Coefficients {
        var negLR: Float
        var weightDecay: Float
        var momentum: Float
        var oneMinusDampening: Float
        var nesterov: Bool
        var firstStep: Bool
    }

    /// The update over raw buffers of `n` floats; `b` is nil without momentum.
    static func update(_ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                       _ b: UnsafeMutablePointer<Float>?, _ n: Int, _ c: Coefficients) {
        var i = 0
        while i < n {
            let k = n - i
            var pv = Lanes.load(p + i, k)
            var dv = Lanes.load(g + i, k)
            // Fused multiply-adds, as PyTorch's CPU `add(alpha:)` computes them.
            if c.weightDecay != 0 { dv = dv.addingProduct(c.weightDecay, pv) }
            if let b {
                var bv: Lanes.V
                if c.firstStep {
                    bv = dv
                } else {
                    bv = Lanes.load(b + i, k)
                    bv = (bv * c.momentum).addingProduct(c.oneMinusDampening, dv)
                }
                Lanes.store(bv, b + i, k)
                dv = c.nesterov ? dv.addingProduct(c.momentum, bv) : bv
            }
            pv = pv.addingProduct(c.negLR, dv)
            Lanes.store(pv, p + i, k)
            i += Lanes.width
        }
    }

    // MARK: State

    public func stateArrays() -> [String: Tensor] {
        OptimizerStateNames.arrays(groups, state, stepCount: stepCount) { s in [("momentum_buffer", s.buffer.copy())] }
    }

    public func loadState(_ arrays: [String: Tensor]) throws {
        try OptimizerChecks.validate(groups, owner: owner)
        let read = try OptimizerStateNames.collect(arrays, groups: groups, tensorFields: ["momentum_buffer"],
                                                   counterFields: [], owner: owner)
        if momentum == 0, let any = read.params.values.first {
            throw HalluError("\(owner) state: \"\(any.prefix).momentum_buffer\" given, but this optimiser has no momentum")
        }
        var fresh: [ObjectIdentifier: ParamState] = [:]
        for (id, e) in read.params {
            fresh[id] = ParamState(param: e.param, buffer: e.tensors["momentum_buffer"]!)
        }
        state = fresh
        stepCount = read.stepCount
        groupsChanged = false
    }
}
