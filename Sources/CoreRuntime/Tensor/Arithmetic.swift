import Foundation

/// Binary arithmetic with NumPy broadcasting, and unary maths, each with its backward.
extension Tensor {
    enum BinaryOp { case add, sub, mul, div }

    /// Applies `op` elementwise with broadcasting. Fast paths cover equal shapes and a right operand
    /// that is a scalar or repeats along the leading dimensions (biases, per-channel scales).
    static func binary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp, name: String) throws -> Tensor {
        let outShape = a.shape == b.shape ? a.shape : try Shape.broadcast(a.shape, b.shape, op: name)
        let out = Tensor(uninitializedShape: outShape)
        let n = out.count, o = out.data, p = a.data, q = b.data
        @inline(__always) func apply(_ x: Float, _ y: Float) -> Float {
            switch op { case .add: return x + y; case .sub: return x - y; case .mul: return x * y; case .div: return x / y }
        }
        if a.count == n && b.count == n {
            switch op {
            case .add: for i in 0..<n { o[i] = p[i] + q[i] }
            case .sub: for i in 0..<n { o[i] = p[i] - q[i] }
            case .mul: for i in 0..<n { o[i] = p[i] * q[i] }
            case .div: for i in 0..<n { o[i] = p[i] / q[i] }
            }
        } else if a.count == n && b.count == 1 {
            let y = q[0]
            for i in 0..<n { o[i] = apply(p[i], y) }
        } else if a.count == n && b.shape.count <= a.shape.count && Array(a.shape.suffix(b.shape.count)) == b.shape {
            let m = b.count
            var base = 0
            while base < n {
                for j in 0..<m { o[base + j] = apply(p[base + j], q[j]) }
                base += m
            }
        } else {
            // General strided broadcast.
            let rank = outShape.count
            let sa = broadcastStrides(a.shape, rank: rank, outShape: outShape)
            let sb = broadcastStrides(b.shape, rank: rank, outShape: outShape)
            var idx = [Int](repeating: 0, count: rank)
            var ia = 0, ib = 0
            for i in 0..<n {
                o[i] = apply(p[ia], q[ib])
                var d = rank - 1
                while d >= 0 {
                    idx[d] += 1; ia += sa[d]; ib += sb[d]
                    if idx[d] < outShape[d] { break }
                    ia -= sa[d] * idx[d]; ib -= sb[d] * idx[d]; idx[d] = 0
                    d -= 1
                }
            }
        }
        return record(out, name, [a, b]) { g in
            var ga: Tensor? = nil, gb: Tensor? = nil
            switch op {
            case .add:
                if a.isTracked { ga = try g.sumTo(a.shape) }
                if b.isTracked { gb = try g.sumTo(b.shape) }
            case .sub:
                if a.isTracked { ga = try g.sumTo(a.shape) }
                if b.isTracked { gb = try g.scaled(-1).sumTo(b.shape) }
            case .mul:
                if a.isTracked { ga = try (g * b).sumTo(a.shape) }
                if b.isTracked { gb = try (g * a).sumTo(b.shape) }
            case .div:
                if a.isTracked { ga = try (g / b).sumTo(a.shape) }
                if b.isTracked { gb = try (g * a / (b * b)).scaled(-1).sumTo(b.shape) }
            }
            return [ga, gb]
        }
    }

    /// Strides of `shape` aligned to an output of `rank`, with 0 along broadcast dimensions.
    static func broadcastStrides(_ shape: [Int], rank: Int, outShape: [Int]) -> [Int] {
        let own = Shape.strides(shape)
        var s = [Int](repeating: 0, count: rank)
        let off = rank - shape.count
        for i in 0..<shape.count where shape[i] == outShape[i + off] && shape[i] != 1 { s[i + off] = own[i] }
        return s
    }

    /// Sums a broadcast gradient back down to `target` (the inverse of broadcasting).
    public func sumTo(_ target: [Int]) throws -> Tensor {
        if shape == target { return self }
        if Shape.count(target) == count { return try reshaped(target) }
        let out = Tensor.zeros(target)
        let rank = shape.count
        let st = Tensor.broadcastStrides(target, rank: rank, outShape: shape)
        let o = out.data, p = data
        // Fast path: target is a suffix (bias-like): fold rows.
        if target.count <= rank && Array(shape.suffix(target.count)) == target {
            let m = Shape.count(target)
            var base = 0
            while base < count {
                for j in 0..<m { o[j] += p[base + j] }
                base += m
            }
            return out
        }
        var idx = [Int](repeating: 0, count: rank)
        var it = 0
        for i in 0..<count {
            o[it] += p[i]
            var d = rank - 1
            while d >= 0 {
                idx[d] += 1; it += st[d]
                if idx[d] < shape[d] { break }
                it -= st[d] * idx[d]; idx[d] = 0
                d -= 1
            }
        }
        return out
    }

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try binary(a, b, .add, name: "add") }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try binary(a, b, .sub, name: "sub") }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try binary(a, b, .mul, name: "mul") }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try binary(a, b, .div, name: "div") }
    public static func + (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: s) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: -s) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.affine(scale: s, shift: 0) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.affine(scale: s, shift: 0) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1 / s, shift: 0) }
    public static prefix func - (a: Tensor) -> Tensor { a.affine(scale: -1, shift: 0) }

    /// `x * s`.
    public func scaled(_ s: Float) -> Tensor { affine(scale: s, shift: 0) }

    /// `x * scale + shift`.
    public func affine(scale: Float, shift: Float) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let p = data, o = out.data
        for i in 0..<count { o[i] = p[i] * scale + shift }
        return Tensor.record(out, "affine", [self]) { g in [g.scaled(scale)] }
    }

    /// Applies `f` elementwise; `df(x, y)` gives dy/dx from the input and output.
    func unary(_ name: String, _ f: (Float) -> Float, _ df: @escaping (Float, Float) -> Float) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let p = data, o = out.data
        for i in 0..<count { o[i] = f(p[i]) }
        return Tensor.record(out, name, [self]) { [self] g in
            let gi = Tensor(uninitializedShape: self.shape)
            let x = self.data, y = out.data, gp = g.data, r = gi.data
            for i in 0..<self.count { r[i] = gp[i] * df(x[i], y[i]) }
            return [gi]
        }
    }

    /// e^x.
    public func exp() -> Tensor { unary("exp", { Foundation.exp($0) }, { _, y in y }) }
    /// Natural log.
    public func log() -> Tensor { unary("log", { Foundation.log($0) }, { x, _ in 1 / x }) }
    /// Square root.
    public func sqrt() -> Tensor { unary("sqrt", { $0.squareRoot() }, { _, y in 0.5 / y }) }
    /// x^p for a constant exponent.
    public func pow(_ p: Float) -> Tensor {
        unary("pow", { Foundation.pow($0, p) }, { x, _ in p * Foundation.pow(x, p - 1) })
    }
    /// Hyperbolic tangent.
    public func tanh() -> Tensor { unary("tanh", { Foundation.tanh($0) }, { _, y in 1 - y * y }) }
    /// Logistic sigmoid.
    public func sigmoid() -> Tensor { unary("sigmoid", { 1 / (1 + Foundation.exp(-$0)) }, { _, y in y * (1 - y) }) }
    /// max(x, 0).
    public func relu() -> Tensor { unary("relu", { Swift.max($0, 0) }, { x, _ in x > 0 ? 1 : 0 }) }
    /// log(sigmoid(x)), computed stably (DPO's loss).
    public func logSigmoid() -> Tensor {
        unary("logsigmoid", { x in Swift.min(x, 0) - Foundation.log1p(Foundation.exp(-abs(x))) },
              { x, _ in 1 / (1 + Foundation.exp(x)) })
    }
    /// Clamps into [lo, hi]; the gradient is zero where clamped.
    public func clamped(_ lo: Float, _ hi: Float) -> Tensor {
        unary("clamp", { Swift.min(Swift.max($0, lo), hi) }, { x, _ in (x >= lo && x <= hi) ? 1 : 0 })
    }
}
