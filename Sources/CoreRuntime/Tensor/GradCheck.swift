import Foundation

/// Finite-difference gradient checking: every differentiable op is verified against central
/// differences of a random projection of its output.
public enum GradCheck {
    /// The outcome of a check: the worst mismatch and where it happened.
    public struct Result: CustomStringConvertible {
        public var maxAbsError: Float
        public var maxRelError: Float
        public var worst: String
        public var description: String { "max abs \(maxAbsError), max rel \(maxRelError) at \(worst)" }
        /// Whether every element agrees within `tol` relatively (or `tol` absolutely for tiny gradients).
        public func passes(_ tol: Float = 2e-2) -> Bool { maxRelError <= tol || maxAbsError <= tol * 0.05 }
    }

    /// Compares autograd gradients of `f` with respect to `inputs` (which must require grad) against
    /// central differences with step `eps`. The scalar checked is sum(f(inputs) * w) for a fixed random w.
    public static func check(_ inputs: [Tensor], eps: Float = 1e-2, seed: UInt64 = 7,
                             _ f: ([Tensor]) throws -> Tensor) throws -> Result {
        let probe = try f(inputs)
        var rng = SeededRNG(seed: seed)
        let w = Tensor.uniform(probe.shape, low: -1, high: 1, rng: &rng)
        func objective() throws -> Double {
            let y = try withNoGrad { try f(inputs) }
            var s: Double = 0
            for i in 0..<y.count { s += Double(y.data[i]) * Double(w.data[i]) }
            return s
        }
        for x in inputs { x.grad = nil }
        try (try f(inputs) * w).sum().backward()
        var result = Result(maxAbsError: 0, maxRelError: 0, worst: "-")
        for (n, x) in inputs.enumerated() where x.requiresGrad {
            let analytic = x.grad?.values ?? [Float](repeating: 0, count: x.count)
            for i in 0..<x.count {
                let orig = x.data[i]
                x.data[i] = orig + eps
                let up = try objective()
                x.data[i] = orig - eps
                let down = try objective()
                x.data[i] = orig
                let numeric = Float((up - down) / Double(2 * eps))
                let abs = Swift.abs(numeric - analytic[i])
                let rel = abs / Swift.max(Swift.abs(numeric) + Swift.abs(analytic[i]), 1e-3)
                if rel > result.maxRelError {
                    result.maxRelError = rel
                    result.worst = "input \(n) element \(i): autograd \(analytic[i]) vs numeric \(numeric)"
                }
                result.maxAbsError = Swift.max(result.maxAbsError, abs)
            }
        }
        return result
    }
}
