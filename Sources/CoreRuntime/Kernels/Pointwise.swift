import Foundation

/// Elementwise arithmetic with the broadcasts the tensor layer needs, and the pointwise functions
/// that are not activations (log, square root, powers, log-sigmoid, clamping).
extension Kernels {
    /// The four arithmetic operators.
    public enum Arithmetic: Sendable {
        case add, sub, mul, div

        /// One element (the scalar form of the vector path, with the same rounding).
        @inline(__always) public func apply(_ x: Float, _ y: Float) -> Float {
            switch self {
            case .add: return x + y
            case .sub: return x - y
            case .mul: return x * y
            case .div: return x / y
            }
        }

        @inline(__always) func apply(_ x: V8, _ y: V8) -> V8 {
            switch self {
            case .add: return x + y
            case .sub: return x - y
            case .mul: return x * y
            case .div: return x / y
            }
        }
    }

    /// out = a ∘ b over `count` elements (out may alias a or b).
    public static func arithmetic(_ op: Arithmetic, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                  _ out: UnsafeMutablePointer<Float>, count: Int) {
        switch op {
        case .add: map2(AddOp.self, a, b, out, count, grain: grainSimple)
        case .sub: map2(SubOp.self, a, b, out, count, grain: grainSimple)
        case .mul: map2(MulOp.self, a, b, out, count, grain: grainSimple)
        case .div: map2(DivOp.self, a, b, out, count, grain: grainSimple)
        }
    }

    /// out = x ∘ s (or s ∘ x with `scalarFirst`) for one scalar s (out may alias x).
    public static func arithmetic(_ op: Arithmetic, _ x: UnsafePointer<Float>, scalar s: Float, scalarFirst: Bool = false,
                                  _ out: UnsafeMutablePointer<Float>, count: Int) {
        let sv = V8(repeating: s)
        spans(count, grain: grainSimple) { lo, hi in
            var i = lo
            if scalarFirst {
                while i + 8 <= hi { st8(out + i, op.apply(sv, ld8(x + i))); i += 8 }
                while i < hi { out[i] = op.apply(s, x[i]); i += 1 }
            } else {
                while i + 8 <= hi { st8(out + i, op.apply(ld8(x + i), sv)); i += 8 }
                while i < hi { out[i] = op.apply(x[i], s); i += 1 }
            }
        }
    }

    /// out[r, c] = x[r, c] ∘ row[c] (or row[c] ∘ x[r, c] with `rowFirst`) over `rows x cols`:
    /// a bias, scale or any operand that repeats along the leading dimensions. out may alias x.
    public static func arithmetic(_ op: Arithmetic, _ x: UnsafePointer<Float>, row: UnsafePointer<Float>, rowFirst: Bool = false,
                                  _ out: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        if rows <= 0 || cols <= 0 { return }
        Parallel.forEach(count: rows, minChunk: max(1, grainSimple / cols)) { r in
            for rr in r {
                let xs = x + rr * cols, ys = out + rr * cols
                var i = 0
                if rowFirst {
                    while i + 8 <= cols { st8(ys + i, op.apply(ld8(row + i), ld8(xs + i))); i += 8 }
                    while i < cols { ys[i] = op.apply(row[i], xs[i]); i += 1 }
                } else {
                    while i + 8 <= cols { st8(ys + i, op.apply(ld8(xs + i), ld8(row + i))); i += 8 }
                    while i < cols { ys[i] = op.apply(xs[i], row[i]); i += 1 }
                }
            }
        }
    }

    /// y = x · scale + shift (y may alias x).
    public static func affine(_ x: UnsafePointer<Float>, scale: Float, shift: Float, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let a = V8(repeating: scale), b = V8(repeating: shift)
        spans(count, grain: grainSimple) { s, e in
            var i = s
            while i + 8 <= e { st8(y + i, ld8(x + i) * a + b); i += 8 }
            while i < e { y[i] = x[i] * scale + shift; i += 1 }
        }
    }

    /// Pointwise functions with their derivatives (those that are not neural-network activations).
    public enum Pointwise: Sendable, Equatable {
        case log
        case sqrt
        /// x^p for a constant exponent.
        case pow(Float)
        /// log σ(x), computed without overflow.
        case logSigmoid
        /// min(max(x, lo), hi); the derivative is 1 inside [lo, hi], 0 outside.
        case clamp(Float, Float)

        @inline(__always) func value(_ x: Float) -> Float {
            switch self {
            case .log: return Foundation.log(x)
            case .sqrt: return x.squareRoot()
            case .pow(let p): return Foundation.pow(x, p)
            case .logSigmoid: return Swift.min(x, 0) - Foundation.log1p(Foundation.exp(-Swift.abs(x)))
            case .clamp(let lo, let hi): return Swift.min(Swift.max(x, lo), hi)
            }
        }

        /// dy/dx from the input x and the output y.
        @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float {
            switch self {
            case .log: return 1 / x
            case .sqrt: return 0.5 / y
            case .pow(let p): return p * Foundation.pow(x, p - 1)
            case .logSigmoid: return 1 / (1 + Foundation.exp(x))
            case .clamp(let lo, let hi): return (x >= lo && x <= hi) ? 1 : 0
            }
        }
    }

    /// y = f(x) (y may alias x).
    public static func pointwiseForward(_ f: Pointwise, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        spans(count, grain: grainTranscendental) { s, e in for i in s..<e { y[i] = f.value(x[i]) } }
    }

    /// dx = dy · f'(x), given the forward input x and output y (dx may alias dy).
    public static func pointwiseBackward(_ f: Pointwise, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                                         dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        spans(count, grain: grainTranscendental) { s, e in for i in s..<e { dx[i] = dy[i] * f.derivative(x[i], y[i]) } }
    }

    /// Copies `count` floats (parallel for large buffers). The buffers must not overlap.
    public static func copy(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        spans(count, grain: grainSimple * 2) { s, e in (y + s).update(from: x + s, count: e - s) }
    }
}

enum DivOp: BinaryOp { @inline(__always) static func apply(_ a: V8, _ b: V8) -> V8 { a / b } }

extension Kernels {
    /// out[a, j] = Σ_k x[a, k, j] for x `[outer, n, inner]` (a sum over the middle axis).
    public static func sumMiddleAxis(_ x: UnsafePointer<Float>, outer: Int, n: Int, inner: Int, _ out: UnsafeMutablePointer<Float>) {
        if outer <= 0 || inner <= 0 { return }
        if inner == 1 {
            rowChunks(rows: outer, cols: max(1, n), grain: grainSimple) { a in out[a] = n > 0 ? rowSum(x + a * n, n) : 0 }
            return
        }
        Parallel.forEach(count: outer, minChunk: max(1, grainSimple / max(1, n * inner))) { r in
            for a in r {
                let dst = out + a * inner
                dst.update(repeating: 0, count: inner)
                for k in 0..<n {
                    let src = x + (a * n + k) * inner
                    var j = 0
                    while j + 8 <= inner { st8(dst + j, ld8(dst + j) + ld8(src + j)); j += 8 }
                    while j < inner { dst[j] += src[j]; j += 1 }
                }
            }
        }
    }

    /// y[a, k, j] = x[a, j] for y `[outer, n, inner]`: repeats x along a middle axis (the
    /// gradient of `sumMiddleAxis`).
    public static func repeatMiddleAxis(_ x: UnsafePointer<Float>, outer: Int, n: Int, inner: Int, _ y: UnsafeMutablePointer<Float>) {
        if outer <= 0 || inner <= 0 || n <= 0 { return }
        Parallel.forEach(count: outer * n, minChunk: max(1, grainSimple / inner)) { r in
            for ak in r {
                let a = ak / n
                if inner == 1 { y[ak] = x[a] } else { (y + ak * inner).update(from: x + a * inner, count: inner) }
            }
        }
    }
}
