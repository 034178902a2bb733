import Foundation

extension Kernels {
    /// Hyper-parameters of one AdamW step (PyTorch's `torch.optim.AdamW` semantics).
    public struct AdamWConfig: Sendable, Equatable {
        public var learningRate: Float
        public var beta1: Float
        public var beta2: Float
        public var eps: Float
        public var weightDecay: Float

        public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.01) {
            self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2
            self.eps = eps; self.weightDecay = weightDecay
        }
    }

    /// One fused AdamW update of `count` parameters, in place:
    /// p -= lr·wd·p; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
    /// p -= (lr / (1-β1^t)) · m / (√v / √(1-β2^t) + eps), with t = `step` (1 for the first step).
    public static func adamWStep(param: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
                                 m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                                 config c: AdamWConfig, step: Int) {
        let t = Double(max(1, step))
        let bc1 = 1 - Foundation.pow(Double(c.beta1), t)
        let bc2 = 1 - Foundation.pow(Double(c.beta2), t)
        let stepSize = Float(Double(c.learningRate) / bc1)
        let invSqrtBc2 = Float(1 / bc2.squareRoot())
        let decay = 1 - c.learningRate * c.weightDecay
        let (b1, b2) = (c.beta1, c.beta2)
        let (ob1, ob2) = (1 - c.beta1, 1 - c.beta2)
        let eps = c.eps
        spans(count, grain: grainSimple) { s, e in
            // A plain loop: LLVM vectorises it, including the square root (vsqrtps).
            for i in s..<e {
                let g = grad[i]
                let mi = b1 * m[i] + ob1 * g
                let vi = b2 * v[i] + ob2 * g * g
                m[i] = mi
                v[i] = vi
                let denom = vi.squareRoot() * invSqrtBc2 + eps
                param[i] = param[i] * decay - stepSize * mi / denom
            }
        }
    }
}
