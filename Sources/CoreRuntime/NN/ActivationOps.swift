import Foundation

/// Activation functions of the transformer blocks, with exact derivatives.
extension Tensor {
    /// GELU, tanh approximation (`gelu_pytorch_tanh`, `gelu_new`).
    public func geluTanh() -> Tensor {
        let c: Float = 0.797_884_56  // sqrt(2/pi)
        return unary("gelu_tanh", { x in
            0.5 * x * (1 + Foundation.tanh(c * (x + 0.044715 * x * x * x)))
        }, { x, _ in
            let u = c * (x + 0.044715 * x * x * x)
            let t = Foundation.tanh(u)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
        })
    }

    /// GELU, exact erf form (`gelu`, what the LLaVA projector uses).
    public func gelu() -> Tensor {
        unary("gelu", { x in 0.5 * x * (1 + Foundation.erf(x * 0.707_106_78)) }, { x, _ in
            0.5 * (1 + Foundation.erf(x * 0.707_106_78)) + x * 0.398_942_28 * Foundation.exp(-0.5 * x * x)
        })
    }

    /// `x * sigmoid(1.702 x)`: CLIP's activation.
    public func quickGelu() -> Tensor {
        unary("quick_gelu", { x in x / (1 + Foundation.exp(-1.702 * x)) }, { x, _ in
            let s = 1 / (1 + Foundation.exp(-1.702 * x))
            return s + 1.702 * x * s * (1 - s)
        })
    }

    /// SiLU (swish): `x * sigmoid(x)`, Llama's MLP activation.
    public func silu() -> Tensor {
        unary("silu", { x in x / (1 + Foundation.exp(-x)) }, { x, _ in
            let s = 1 / (1 + Foundation.exp(-x))
            return s * (1 + x * (1 - s))
        })
    }

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
}
