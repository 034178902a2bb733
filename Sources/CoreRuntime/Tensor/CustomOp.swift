import Foundation

extension Tensor {
    /// A differentiable op defined outside the core, e.g. in a plugin. `forward` computes the output
    /// from `inputs` (ops inside it record no graph); `backward` maps the gradient of the output to
    /// one gradient per input, in order, each of its input's shape (nil where an input needs none).
    /// When gradients are recorded and an input needs one, the output carries `backward` into the
    /// graph, which keeps `inputs` and the output alive until the backward pass has run.
    ///
    /// Check an op with `GradCheck.check`, as every core op is checked:
    ///
    ///     let r = try GradCheck.check([x]) { t in try Tensor.custom("cube", inputs: t, forward: { $0[0] * $0[0] * $0[0] },
    ///                                                               backward: { g, xs, _ in [try g * xs[0] * xs[0] * 3] }) }
    ///     #expect(r.passes())
    public static func custom(_ name: String, inputs: [Tensor], forward: ([Tensor]) throws -> Tensor,
                              backward: @escaping (_ gradOutput: Tensor, _ inputs: [Tensor], _ output: Tensor) throws -> [Tensor?]) throws -> Tensor {
        let computed = try withNoGrad { try forward(inputs) }
        // An output that is one of the inputs (or shares its storage) would carry their gradient
        // function too; the op's own result is a fresh tensor.
        let out = inputs.contains { $0 === computed } || computed.gradFn != nil ? computed.copy() : computed
        guard recording(inputs) else { return out }
        let shapes = inputs.map(\.shape)
        return record(out, name, inputs) { [inputs, out] g in
            let grads = try backward(g, inputs, out)
            guard grads.count == shapes.count else {
                throw HalluError("custom op \(name): backward returned \(grads.count) gradients for \(shapes.count) inputs")
            }
            for (i, (gr, shape)) in zip(grads, shapes).enumerated() where gr != nil && gr!.shape != shape {
                throw HalluError("custom op \(name): the gradient of input \(i) has shape \(gr!.shape), the input \(shape)")
            }
            return grads
        }
    }
}
