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
        let vb1 = V8(repeating: b1), vb2 = V8(repeating: b2), vob1 = V8(repeating: ob1), vob2 = V8(repeating: ob2)
        let vinv = V8(repeating: invSqrtBc2), veps = V8(repeating: eps), vdecay = V8(repeating: decay)
        let vstep = V8(repeating: stepSize)
        @inline(__always) func update(_ p: V8, _ g: V8, _ m0: V8, _ v0: V8) -> (V8, V8, V8) {
            let mi = vfma(vb1, m0, vob1 * g)
            let vi = vfma(vb2, v0, vob2 * g * g)
            let denom = vfma(vsqrt(vi), vinv, veps)
            return (vfma(p, vdecay, -(vstep * mi / denom)), mi, vi)
        }
        spans(count, grain: grainSimple) { s, e in
            var i = s
            while i + 8 <= e {
                let (p, mi, vi) = update(ld8(param + i), ld8(grad + i), ld8(m + i), ld8(v + i))
                st8(param + i, p); st8(m + i, mi); st8(v + i, vi)
                i += 8
            }
            if i < e {
                let n = e - i
                let (p, mi, vi) = update(ldPartial(param + i, n), ldPartial(grad + i, n), ldPartial(m + i, n), ldPartial(v + i, n))
                stPartial(param + i, p, n); stPartial(m + i, mi, n); stPartial(v + i, vi, n)
            }
        }
    }
}
