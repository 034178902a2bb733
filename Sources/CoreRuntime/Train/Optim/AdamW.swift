import Foundation

/// AdamW (Loshchilov and Hutter), step for step what `torch.optim.AdamW` computes without amsgrad:
///
///     t += 1
///     p *= 1 - lr * wd                          (decoupled decay, before the Adam update)
///     m  = lerp(m, g, 1 - beta1)
///     v  = beta2 * v + (1 - beta2) * g * g
///     p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
///
/// The bias corrections and step size are computed in Double and rounded once, as PyTorch does with Python
/// floats; `t` is each parameter's own count of updates. The elementwise roundings follow PyTorch's CPU
/// kernels, so results agree with torch to the last bit except where torch's vectorised square root rounds
/// differently (at most one ulp, then carried forward). State names: `exp_avg`, `exp_avg_sq`, `step`.
public final class AdamW: Optimizer {
    public var groups: [ParamGroup] { didSet { groupsChanged = true } }
    public let beta1: Double
    public let beta2: Double
    public let eps: Double
    public private(set) var stepCount = 0

    /// Moments and update count of one parameter. Holds the parameter so its identity stays unique.
    final class ParamState {
        let param: Tensor
        let expAvg: Tensor
        let expAvgSq: Tensor
        var step: Int
        init(param: Tensor, expAvg: Tensor, expAvgSq: Tensor, step: Int) {
            self.param = param
            self.expAvg = expAvg
            self.expAvgSq = expAvgSq
            self.step = step
        }
    }

    private var state: [ObjectIdentifier: ParamState] = [:]
    private var groupsChanged = false
    private let owner = "AdamW"

    /// Throws when a group is malformed or a hyperparameter is out of range (betas in [0, 1), eps >= 0).
    public init(groups: [ParamGroup], beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8) throws {
        guard (0..<1).contains(beta1), (0..<1).contains(beta2) else {
            throw HalluError("AdamW: betas (\(beta1), \(beta2)) must lie in [0, 1)")
        }
        guard eps.isFinite, eps >= 0 else { throw HalluError("AdamW: eps \(eps) must be finite and >= 0") }
        try OptimizerChecks.validate(groups, owner: owner)
        self.groups = groups
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
    }

    public func step(lrScale: Float) throws {
        try OptimizerChecks.beginStep(groups, lrScale: lrScale, state: &state, groupsChanged: &groupsChanged, owner: owner)
        for group in groups {
            let lr = Double(group.lr) * Double(lrScale)
            for p in group.params {
                guard let grad = p.grad else { continue }
                let s = stateFor(p)
                s.step += 1
                let c = coefficients(lr: lr, weightDecay: Double(group.weightDecay), step: s.step)
                AdamW.update(p.data, grad.data, s.expAvg.data, s.expAvgSq.data, p.count, c)
            }
        }
        stepCount += 1
    }

    private func stateFor(_ p: Tensor) -> ParamState {
        if let s = state[ObjectIdentifier(p)] { return s }
        let s = ParamState(param: p, expAvg: .zeros(p.shape), expAvgSq: .zeros(p.shape), step: 0)
        state[ObjectIdentifier(p)] = s
        return s
    }

    struct Coefficients {
        var decay: Float
        var lerpWeight: Float
        var lerpSmall: Bool
        var beta2: Float
        var oneMinusBeta2: Float
        var biasCorrection2Sqrt: Float
        var eps: Float
        var negStepSize: Float
    }

    private func coefficients(lr: Double, weightDecay: Double, step: Int) -> Coefficients {
        let weight = Float(1 - beta1)
        return Coefficients(
            decay: Float(1 - lr * weightDecay),
            lerpWeight: weight,
            lerpSmall: abs(weight) < 0.5,
            beta2: Float(beta2),
            oneMinusBeta2: Float(1 - beta2),
            biasCorrection2Sqrt: Float((1 - Foundation.pow(beta2, Double(step))).squareRoot()),
            eps: Float(eps),
            negStepSize: Float(-(lr / (1 - Foundation.pow(beta1, Double(step))))))
    }

    /// The update over raw buffers of `n` floats.
    static func update(_ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                       _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ n: Int, _ c: Coefficients) {
        var i = 0
        while i < n {
            let k = n - i
            var pv = Lanes.load(p + i, k)
            let gv = Lanes.load(g + i, k)
            var mv = Lanes.load(m + i, k)
            var vv = Lanes.load(v + i, k)
            pv = pv * c.decay
            // The same roundings as PyTorch's vectorised CPU kernels: lerp and addcmul fuse their
            // multiply-add, and addcdiv multiplies by the scalar before dividing.
            if c.lerpSmall {
                mv = mv.addingProduct(c.lerpWeight, gv - mv)
            } else {
                mv = gv.addingProduct(c.lerpWeight - 1, gv - mv)
            }
            vv = (vv * c.beta2).addingProduct(c.oneMinusBeta2 * gv, gv)
            let denom = Lanes.sqrtNonNegative(vv) / c.biasCorrection2Sqrt + c.eps
            pv = pv + (c.negStepSize * mv) / denom
            Lanes.store(pv, p + i, k)
            Lanes.store(mv, m + i, k)
            Lanes.store(vv, v + i, k)
            i += Lanes.width
        }
    }

    // MARK: State

    public func stateArrays() -> [String: Tensor] {
        OptimizerStateNames.arrays(groups, state, stepCount: stepCount) { s in
            [("exp_avg", s.expAvg.copy()), ("exp_avg_sq", s.expAvgSq.copy()), ("step", OptimizerStateNames.counter(s.step))]
        }
    }

    public func loadState(_ arrays: [String: Tensor]) throws {
        try OptimizerChecks.validate(groups, owner: owner)
        let read = try OptimizerStateNames.collect(arrays, groups: groups, tensorFields: ["exp_avg", "exp_avg_sq"],
                                                   counterFields: ["step"], owner: owner)
        var fresh: [ObjectIdentifier: ParamState] = [:]
        for (id, e) in read.params {
            try e.require(["exp_avg", "exp_avg_sq"], ["step"], owner: owner)
            fresh[id] = ParamState(param: e.param, expAvg: e.tensors["exp_avg"]!, expAvgSq: e.tensors["exp_avg_sq"]!,
                                   step: e.counters["step"]!)
        }
        state = fresh
        stepCount = read.stepCount
        groupsChanged = false
    }
}
