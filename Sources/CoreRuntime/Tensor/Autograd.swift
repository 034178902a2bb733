import Foundation

/// The recorded step that produced a tensor: its inputs and how to map the output's gradient to theirs.
final class GradFn {
    let name: String
    let inputs: [Tensor]
    /// Given dL/d(output), returns dL/d(input) for each input (nil where an input needs none).
    let backward: (Tensor) throws -> [Tensor?]

    init(_ name: String, _ inputs: [Tensor], _ backward: @escaping (Tensor) throws -> [Tensor?]) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }
}

/// Whether ops record a graph. Off inside `withNoGrad`, for inference and optimiser updates:
/// no tape, no saved activations.
public enum GradMode {
    @TaskLocal static var disabled = false
    /// True when ops currently record gradients.
    public static var isEnabled: Bool { !disabled }
}

/// Runs `body` without recording a graph.
public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
    try GradMode.$disabled.withValue(true) { try body() }
}

extension Tensor {
    /// Builds an op's result and, when gradients are being recorded and an input needs them, attaches
    /// the backward function. Ops call this once with their freshly computed output.
    @inline(__always)
    static func record(_ out: Tensor, _ name: String, _ inputs: [Tensor], _ backward: @escaping (Tensor) throws -> [Tensor?]) -> Tensor {
        if inputs.contains(where: { $0.isTracked }) && GradMode.isEnabled {
            out.gradFn = GradFn(name, inputs, backward)
        }
        return out
    }

    /// Whether an op on `x` must record its backward (checked before building the closure, so that
    /// inference allocates no closures and keeps no saved activations).
    @inline(__always)
    static func recording(_ x: Tensor) -> Bool { x.isTracked && GradMode.isEnabled }

    /// Whether an op on `a` and `b` must record its backward.
    @inline(__always)
    static func recording(_ a: Tensor, _ b: Tensor) -> Bool { (a.isTracked || b.isTracked) && GradMode.isEnabled }

    /// Whether an op on `inputs` must record its backward.
    @inline(__always)
    static func recording(_ inputs: [Tensor]) -> Bool { inputs.contains(where: { $0.isTracked }) && GradMode.isEnabled }

    /// Reverse-mode differentiation from this tensor. A non-scalar root needs an explicit seed
    /// gradient of its shape. Gradients accumulate into the `grad` of leaf tensors that require them;
    /// the graph is released afterwards unless `retainGraph`.
    public func backward(_ seed: Tensor? = nil, retainGraph: Bool = false) throws {
        if seed == nil && count != 1 {
            throw HalluError("backward: the root has shape \(shape); pass a seed gradient or reduce to a scalar first")
        }
        if let seed, seed.shape != shape {
            throw HalluError("backward: seed shape \(seed.shape) does not match root shape \(shape)")
        }
        // Topological order by iterative DFS (deep graphs would overflow a recursive one).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            if visited.contains(ObjectIdentifier(t)) { continue }
            visited.insert(ObjectIdentifier(t))
            stack.append((t, true))
            if let fn = t.gradFn {
                for inp in fn.inputs where inp.isTracked && !visited.contains(ObjectIdentifier(inp)) {
                    stack.append((inp, false))
                }
            }
        }
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed ?? Tensor.full(shape, 1)]
        // Nodes are dropped from `order` as they are processed, so intermediate outputs (and what
        // their backward closures saved) are freed as early as possible.
        var pending: [Tensor?] = order.reversed()
        order.removeAll()
        try withNoGrad {
            for index in pending.indices {
                guard let t = pending[index] else { continue }
                pending[index] = nil
                guard let g = grads.removeValue(forKey: ObjectIdentifier(t)) else { continue }
                guard let fn = t.gradFn else {
                    if t.requiresGrad { try t.accumulateGrad(g) }
                    continue
                }
                let inGrads = try fn.backward(g)
                for (inp, ig) in zip(fn.inputs, inGrads) {
                    guard let ig, inp.isTracked else { continue }
                    let key = ObjectIdentifier(inp)
                    if let existing = grads[key] {
                        grads[key] = try Tensor.accumulated(existing, ig)
                    } else {
                        grads[key] = ig
                    }
                }
                if !retainGraph { t.gradFn = nil }
            }
        }
    }

    /// Adds `g` into this leaf's gradient (gradients accumulate across backward calls).
    func accumulateGrad(_ g: Tensor) throws {
        guard g.count == count else {
            throw HalluError("backward: gradient of shape \(g.shape) for a tensor of shape \(shape)")
        }
        if let existing = grad {
            Kernels.add(existing.data, g.data, existing.data, count: count)
        } else {
            // Always copy: an op may hand the same gradient tensor to several inputs, and the
            // in-place accumulation above must never write into a buffer another leaf holds.
            let own = g.copy()
            grad = own.shape == shape ? own : try own.reshaped(shape)
        }
    }

    /// `a + b` for two gradients of the same shape (a fresh tensor: either may be shared).
    static func accumulated(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.count == b.count else { throw HalluError("backward: gradients of shapes \(a.shape) and \(b.shape)") }
        let out = Tensor(uninitializedShape: a.shape)
        Kernels.add(a.data, b.data, out.data, count: a.count)
        return out
    }

    /// Where a backward kernel may write this tensor's gradient directly: for a leaf that requires
    /// a gradient, its `grad` buffer (created on first use) and whether the kernel must add to it
    /// (true) or may overwrite it (false, a fresh buffer). Nil for any other tensor, whose gradient
    /// goes back to the engine as usual. Writing straight into the leaf saves the temporary, its
    /// copy and the sum that `accumulateGrad` would cost.
    func leafGradTarget() -> (pointer: UnsafeMutablePointer<Float>, accumulate: Bool)? {
        guard requiresGrad && gradFn == nil else { return nil }
        if let g = grad, g.count == count { return (g.data, true) }
        let g = Tensor(uninitializedShape: shape)
        grad = g
        return (g.data, false)
    }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }
}
