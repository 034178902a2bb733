extension Kernels {
    /// Pointwise nonlinearities.
    public enum Activation: String, CaseIterable, Sendable {
        /// 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))): Hugging Face `gelu_pytorch_tanh` / `gelu_new`.
        case geluTanh = "gelu_pytorch_tanh"
        /// x·Φ(x) with the exact normal CDF: Hugging Face `gelu` (PyTorch's default GELU).
        case geluErf = "gelu"
        /// x·σ(1.702x): CLIP's `quick_gelu`.
        case quickGelu = "quick_gelu"
        /// x·σ(x): Llama's `silu`.
        case silu = "silu"
        case tanh = "tanh"
        case sigmoid = "sigmoid"
        case exp = "exp"
        case relu = "relu"

        /// The activation named by a Hugging Face config's `hidden_act` (nil if unknown).
        public init?(hfName: String) {
            switch hfName {
            case "gelu", "gelu_python": self = .geluErf
            case "gelu_pytorch_tanh", "gelu_new", "gelu_fast": self = .geluTanh
            case "quick_gelu": self = .quickGelu
            case "silu", "swish": self = .silu
            case "tanh": self = .tanh
            case "sigmoid": self = .sigmoid
            case "relu": self = .relu
            default: return nil
            }
        }

        /// Whether `activationBackward` uses the forward output `y` when given.
        var backwardUsesOutput: Bool { self == .exp }
    }
}

extension Kernels {
    /// y = act(x) over `count` elements (y may alias x).
    public static func activationForward(_ act: Activation, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        let g = grainTranscendental
        switch act {
        case .geluTanh: map(GeluTanhOp.self, x, y, count, grain: g)
        case .geluErf: map(GeluErfOp.self, x, y, count, grain: g)
        case .quickGelu: map(QuickGeluOp.self, x, y, count, grain: g)
        case .silu: map(SiluOp.self, x, y, count, grain: g)
        case .tanh: map(TanhOp.self, x, y, count, grain: g)
        case .sigmoid: map(SigmoidOp.self, x, y, count, grain: g)
        case .exp: map(ExpOp.self, x, y, count, grain: g)
        case .relu: map(ReluOp.self, x, y, count, grain: grainSimple)
        }
    }

    /// dx = dy · act'(x), computed from `x` (for tanh and sigmoid this keeps relative accuracy where
    /// they saturate, which 1 - y² and y(1 - y) lose). For `exp`, pass the forward output as `y` to
    /// skip recomputing it; other activations ignore `y`. dx may alias dy.
    public static func activationBackward(_ act: Activation, x: UnsafePointer<Float>, y: UnsafePointer<Float>? = nil,
                                          dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        let g = grainTranscendental
        switch act {
        case .geluTanh: map2(GeluTanhGrad.self, x, dy, dx, count, grain: g)
        case .geluErf: map2(GeluErfGrad.self, x, dy, dx, count, grain: g)
        case .quickGelu: map2(QuickGeluGrad.self, x, dy, dx, count, grain: g)
        case .silu: map2(SiluGrad.self, x, dy, dx, count, grain: g)
        case .relu: map2(ReluGrad.self, x, dy, dx, count, grain: grainSimple)
        case .tanh: map2(TanhGrad.self, x, dy, dx, count, grain: g)
        case .sigmoid: map2(SigmoidGrad.self, x, dy, dx, count, grain: g)
        case .exp:
            if let y { map2(MulOp.self, y, dy, dx, count, grain: grainSimple) } else { map2(ExpGrad.self, x, dy, dx, count, grain: g) }
        }
    }

    /// Llama's gated MLP nonlinearity: out = silu(gate) · up (out may alias gate or up).
    public static func swigluForward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int) {
        map2(SwigluOp.self, gate, up, out, count, grain: grainTranscendental)
    }

    /// Gradients of `swigluForward`: dGate = dOut·up·silu'(gate), dUp = dOut·silu(gate).
    /// dGate/dUp may alias gate/up respectively (each element is read before it is written).
    public static func swigluBackward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                                      dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, count: Int) {
        @inline(__always) func grads(_ g: V8, _ u: V8, _ d: V8) -> (V8, V8) {
            let (s, c) = vsigmoidAndComplement(g)
            let silu = g * s
            let dsilu = s * vfma(g, c, V8(repeating: 1))
            return (d * u * dsilu, d * silu)
        }
        spans(count, grain: grainTranscendental) { s, e in
            var i = s
            while i + 8 <= e {
                let (a, b) = grads(ld8(gate + i), ld8(up + i), ld8(dOut + i))
                st8(dGate + i, a); st8(dUp + i, b)
                i += 8
            }
            if i < e {
                let n = e - i
                let (a, b) = grads(ldPartial(gate + i, n), ldPartial(up + i, n), ldPartial(dOut + i, n))
                stPartial(dGate + i, a, n); stPartial(dUp + i, b, n)
            }
        }
    }
}

// gelu_tanh(x) = x·σ(2u), u = √(2/π)(x + 0.044715x³), because (1 + tanh u)/2 = σ(2u); this form keeps
// relative accuracy for large negative x, where 1 + tanh u cancels.
private let geluK0: Float = 0.797_884_560_802_865_4
private let geluK1: Float = 0.044_715

enum GeluTanhOp: UnaryOp {
    @inline(__always) static func apply(_ x: V8) -> V8 {
        // 2u = x·(2k0 + 2k0k1·x²): two dependent steps instead of five.
        let twoU = x * vfma(x * x, V8(repeating: 2 * geluK0 * geluK1), V8(repeating: 2 * geluK0))
        return x * vsigmoid(twoU)
    }
}
enum GeluTanhGrad: BinaryOp {
    @inline(__always) static func apply(_ x: V8, _ dy: V8) -> V8 {
        let x2 = x * x
        let u = geluK0 * vfma(geluK1 * x2, x, x)
        let (s, c) = vsigmoidAndComplement(u + u)
        let du = geluK0 * vfma(V8(repeating: 3 * geluK1), x2, V8(repeating: 1))
        return dy * vfma(x * s * c, du + du, s)
    }
}
enum GeluErfOp: UnaryOp {
    @inline(__always) static func apply(_ x: V8) -> V8 { x * vnormalCDFAndGaussian(x).cdf }
}
enum GeluErfGrad: BinaryOp {
    @inline(__always) static func apply(_ x: V8, _ dy: V8) -> V8 {
        let (cdf, gauss) = vnormalCDFAndGaussian(x)
        return dy * vfma(x, 0.398_942_280_401_432_7 * gauss, cdf)
    }
}
enum QuickGeluOp: UnaryOp {
    @inline(__always) static func apply(_ x: V8) -> V8 { x * vsigmoid(1.702 * x) }
}
enum QuickGeluGrad: BinaryOp {
    @inline(__always) static func apply(_ x: V8, _ dy: V8) -> V8 {
        let (s, c) = vsigmoidAndComplement(1.702 * x)
        return dy * vfma(1.702 * x * s, c, s)
    }
}
enum SiluOp: UnaryOp {
    @inline(__always) static func apply(_ x: V8) -> V8 { x * vsigmoid(x) }
}
enum SiluGrad: BinaryOp {
    @inline(__always) static func apply(_ x: V8, _ dy: V8) -> V8 {
        let (s, c) = vsigmoidAndComplement(x)
        return dy * s * vfma(x, c, V8(repeating: 1))
    }
}
enum SwigluOp: BinaryOp {
    @inline(__always) static func apply(_ g: V8, _ u: V8) -> V8 { g * vsigmoid(g) * u }
}
enum TanhOp: UnaryOp {
    @inline(__always) static func apply(_ x: V8) -> V8 { vtanh(x) }
}
enum TanhGrad: BinaryOp {
    @inline(__always) static func apply(_ x: V8, _ dy: V8) -> V8 { dy * vtanhDerivative(x) }
}
enum SigmoidOp: UnaryOp {
    @inline(__always) static func apply(_ x: V8) -> V8 { vsigmoid(x) }
}
enum SigmoidGrad: BinaryOp {
    @inline(__always) static func apply(_ x: V8, _ dy: V8) -> V8 { let (s, c) = vsigmoidAndComplement(x); return dy * s * c }
}
enum ExpOp: UnaryOp {
    @inline(__always) static func apply(_ x: V8) -> V8 { vexp(x) }
}
enum ExpGrad: BinaryOp {
    @inline(__always) static func apply(_ x: V8, _ dy: V8) -> V8 { dy * vexp(x) }
}
enum ReluOp: UnaryOp {
    @inline(__always) static func apply(_ x: V8) -> V8 { x.replacing(with: 0, where: x .< 0) }
}
enum ReluGrad: BinaryOp {
    @inline(__always) static func apply(_ x: V8, _ dy: V8) -> V8 { dy.replacing(with: 0, where: x .<= 0) }
}
