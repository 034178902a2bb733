import Foundation

/// Activation functions of the transformer blocks, with exact derivatives (SIMD kernels in
/// `Kernels.activationForward`).
extension Tensor {
    /// GELU, tanh approximation (`gelu_pytorch_tanh`, `gelu_new`).
    public func geluTanh() -> Tensor { activationOp("gelu_tanh", .geluTanh) }

    /// GELU, exact erf form (`gelu`, what the LLaVA projector uses).
    public func gelu() -> Tensor { activationOp("gelu", .geluErf) }

    /// `x * sigmoid(1.702 x)`: CLIP's activation.
    public func quickGelu() -> Tensor { activationOp("quick_gelu", .quickGelu) }

    /// SiLU (swish): `x * sigmoid(x)`, Llama's MLP activation.
    public func silu() -> Tensor { activationOp("silu", .silu) }

    /// Applies an activation by its Hugging Face name.
    public func activation(_ name: String) throws -> Tensor {
        switch name {
        case "gelu": return gelu()
        case "gelu_new", "gelu_pytorch_tanh", "gelu_tanh": return geluTanh()
        case "quick_gelu": return quickGelu()
        case "silu", "swish": return silu()
        case "relu": return relu()
        case "tanh": return tanh()
        default: throw HalluError("unsupported activation \"\(name)\" (gelu, gelu_new, gelu_pytorch_tanh, quick_gelu, silu, relu, tanh)")
        }
    }

    /// Llama's gated MLP nonlinearity `silu(gate) * up` as one op: no intermediate activation is
    /// stored; the backward pass recomputes silu from the saved gate.
    public static func swiglu(_ gate: Tensor, _ up: Tensor) throws -> Tensor {
        guard gate.shape == up.shape else { throw HalluError("swiglu: gate \(gate.shape) and up \(up.shape) differ") }
        let out = Tensor(uninitializedShape: gate.shape)
        Kernels.swigluForward(gate: gate.data, up: up.data, out: out.data, count: out.count)
        guard recording(gate, up) else { return out }
        let (needGate, needUp, shape) = (gate.isTracked, up.isTracked, gate.shape)
        var savedGate: Tensor? = gate, savedUp: Tensor? = up
        out.gradFn = GradFn("swiglu", [gate, up]) { g in
            // This step reads gate and up for the last time: when nothing else holds them, their
            // gradients are written over them instead of into two more buffers of their size.
            let inPlace = !BackwardPass.retainsGraph && Tensor.isSoleHolder(&savedGate) && Tensor.isSoleHolder(&savedUp)
            guard let gate = savedGate, let up = savedUp else { throw HalluError("swiglu: the step's inputs were released") }
            let dGate = inPlace ? Tensor(storage: gate.storage, shape: shape) : Tensor(uninitializedShape: shape)
            let dUp = inPlace ? Tensor(storage: up.storage, shape: shape) : Tensor(uninitializedShape: shape)
            Kernels.swigluBackward(gate: gate.data, up: up.data, dOut: g.data, dGate: dGate.data, dUp: dUp.data, count: g.count)
            if !BackwardPass.retainsGraph { savedGate = nil; savedUp = nil }
            return [needGate ? dGate : nil, needUp ? dUp : nil]
        }
        return out
    }
}
