import Foundation

/// The recorded step that produced a tensor: where its inputs' gradients go, and how to map the
/// output's gradient to theirs.
///
/// The graph links steps to steps, not tensors to tensors: an edge holds the producing step of a
/// computed input (or the input itself when it is a leaf that requires a gradient), so an
/// intermediate tensor is freed as soon as nothing but the graph would hold it. What a backward
/// pass needs is exactly what its closure captured (e.g. a linear layer keeps its input only when
/// its weight needs a gradient).
final class GradFn {
    /// Where one input's gradient goes.
    enum Edge {
        /// The input needs no gradient.
        case none
        /// A leaf that accumulates its gradient in `grad`.
        case leaf(Tensor)
        /// A computed input: its gradient continues through the step that produced it.
        case node(GradFn)
    }

    let name: String
    private(set) var edges: [Edge]
    /// Given dL/d(output), returns dL/d(input) for each input (nil where an input needs none).
    private(set) var backward: ((Tensor) throws -> [Tensor?])?

    init(_ name: String, _ inputs: [Tensor], _ backward: @escaping (Tensor) throws -> [Tensor?]) {
        self.name = name
        self.edges = inputs.map { t in
            if let fn = t.gradFn, fn.isLive { return .node(fn) }
            return t.requiresGrad && t.gradFn == nil ? .leaf(t) : .none
        }
        self.backward = backward
    }

    /// False once a backward pass has run through this step without `retainGraph`.
    var isLive: Bool { backward != nil }

    /// Drops the closure (and what it saved) and the edges.
    func release() {
        backward = nil
        edges = []
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
    /// the graph is released afterwards unless `retainGraph` (a released graph cannot be run again:
    /// its tensors become constants).
    public func backward(_ seed: Tensor? = nil, retainGraph: Bool = false) throws {
        if seed == nil && count != 1 {
            throw HalluError("backward: the root has shape \(shape); pass a seed gradient or reduce to a scalar first")
        }
        if let seed, seed.shape != shape {
            throw HalluError("backward: seed shape \(seed.shape) does not match root shape \(shape)")
        }
        let rootGrad = seed ?? Tensor.full(shape, 1)
        guard let root = gradFn, root.isLive else {
            if requiresGrad && gradFn == nil { try withNoGrad { try accumulateGrad(rootGrad) } }
            return
        }
        // Topological order of the steps by iterative DFS (deep graphs would overflow a recursive one).
        var order: [GradFn] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(GradFn, Bool)] = [(root, false)]
        while let (fn, expanded) = stack.popLast() {
            if expanded { order.append(fn); continue }
            if !visited.insert(ObjectIdentifier(fn)).inserted { continue }
            stack.append((fn, true))
            for case .node(let input) in fn.edges where input.isLive && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): rootGrad]
        // Sums the engine made itself: nothing else holds them, so later terms are added in place.
        var ownSums = Set<ObjectIdentifier>()
        try BackwardPass.$retainsGraph.withValue(retainGraph) { try withNoGrad {
            // Steps are dropped as they are processed, so what their closures saved is freed early.
            for fn in order.reversed() {
                let g = grads.removeValue(forKey: ObjectIdentifier(fn))
                if let g { ownSums.remove(ObjectIdentifier(g)) }
                guard let g, let body = fn.backward else {
                    if !retainGraph { fn.release() }
                    continue
                }
                let inGrads = try body(g)
                for (edge, ig) in zip(fn.edges, inGrads) {
                    guard let ig else { continue }
                    switch edge {
                    case .none: continue
                    case .leaf(let t): try t.accumulateGrad(ig)
                    case .node(let input):
                        guard input.isLive else { continue }
                        let key = ObjectIdentifier(input)
                        guard let sum = grads[key] else { grads[key] = ig; continue }
                        if ownSums.contains(ObjectIdentifier(sum)) {
                            try Tensor.accumulate(ig, into: sum)
                        } else {
                            let fresh = try Tensor.accumulated(sum, ig)
                            ownSums.insert(ObjectIdentifier(fresh))
                            grads[key] = fresh
                        }
                    }
                }
                if !retainGraph { fn.release() }
            }
        } }
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

    /// Adds gradient `g` into `sum`, a buffer only the engine holds.
    static func accumulate(_ g: Tensor, into sum: Tensor) throws {
        guard g.count == sum.count else { throw HalluError("backward: gradients of shapes \(sum.shape) and \(g.shape)") }
        Kernels.add(sum.data, g.data, sum.data, count: sum.count)
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
        guard isLeafRequiringGrad else { return nil }
        if let g = grad, g.count == count { return (g.data, true) }
        let g = Tensor(uninitializedShape: shape)
        grad = g
        return (g.data, false)
    }

    /// A leaf that accumulates a gradient (the `.leaf` edge of the graph).
    var isLeafRequiringGrad: Bool { requiresGrad && gradFn == nil }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }
}
