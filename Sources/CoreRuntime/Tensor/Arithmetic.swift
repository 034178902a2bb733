import Foundation

/// Binary arithmetic with NumPy broadcasting, and unary maths, each with its backward. The
/// arithmetic itself is in `Kernels`; this layer picks the kernel for the broadcast at hand.
extension Tensor {
    typealias BinaryOp = Kernels.Arithmetic

    /// Applies `op` elementwise with broadcasting. Kernels cover equal shapes, a scalar on either
    /// side, and an operand that repeats along the leading dimensions of the other (biases,
    /// per-channel scales); anything else goes through a strided loop over the same scalar op.
    static func binary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp, name: String) throws -> Tensor {
        let outShape = a.shape == b.shape ? a.shape : try Shape.broadcast(a.shape, b.shape, op: name)
        let out = Tensor(uninitializedShape: outShape)
        let n = out.count
        if a.count == n && b.count == n {
            Kernels.arithmetic(op, a.data, b.data, out.data, count: n)
        } else if a.count == n && b.count == 1 {
            Kernels.arithmetic(op, a.data, scalar: b.data[0], out.data, count: n)
        } else if b.count == n && a.count == 1 {
            Kernels.arithmetic(op, b.data, scalar: a.data[0], scalarFirst: true, out.data, count: n)
        } else if a.count == n && isTrailing(b.shape, of: a.shape) {
            Kernels.arithmetic(op, a.data, row: b.data, out.data, rows: n / b.count, cols: b.count)
        } else if b.count == n && isTrailing(a.shape, of: b.shape) {
            Kernels.arithmetic(op, b.data, row: a.data, rowFirst: true, out.data, rows: n / a.count, cols: a.count)
        } else {
            let rank = outShape.count
            let sa = broadcastStrides(a.shape, rank: rank, outShape: outShape)
            let sb = broadcastStrides(b.shape, rank: rank, outShape: outShape)
            let o = out.data, p = a.data, q = b.data
            var idx = [Int](repeating: 0, count: rank)
            var ia = 0, ib = 0
            for i in 0..<n {
                o[i] = op.apply(p[ia], q[ib])
                var d = rank - 1
                while d >= 0 {
                    idx[d] += 1; ia += sa[d]; ib += sb[d]
                    if idx[d] < outShape[d] { break }
                    ia -= sa[d] * idx[d]; ib -= sb[d] * idx[d]; idx[d] = 0
                    d -= 1
                }
            }
        }
        guard recording(a, b) else { return out }
        // Save only what the backward pass reads: nothing for + and -, the other operand for * and /.
        let (shapeA, shapeB, needA, needB) = (a.shape, b.shape, a.isTracked, b.isTracked)
        switch op {
        case .add, .sub:
            out.gradFn = GradFn(name, [a, b]) { g in
                [needA ? try g.sumTo(shapeA) : nil, needB ? try (op == .sub ? g.scaled(-1) : g).sumTo(shapeB) : nil]
            }
        case .mul:
            let sa = needB ? a : nil, sb = needA ? b : nil
            out.gradFn = GradFn(name, [a, b]) { g in
                [try sb.map { try (g * $0).sumTo(shapeA) }, try sa.map { try (g * $0).sumTo(shapeB) }]
            }
        case .div:
            out.gradFn = GradFn(name, [a, b]) { g in
                [needA ? try (g / b).sumTo(shapeA) : nil, needB ? try (g * a / (b * b)).scaled(-1).sumTo(shapeB) : nil]
            }
        }
        return out
    }

    /// Whether `small` equals the trailing dimensions of `big` (leading 1s in `small` allowed).
    static func isTrailing(_ small: [Int], of big: [Int]) -> Bool {
        var s = small[...]
        while let f = s.first, f == 1, s.count > 0 { s = s.dropFirst() }
        return s.count <= big.count && Array(big.suffix(s.count)) == Array(s)
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
        let m = Shape.count(target)
        // Fast path: target is trailing (bias-like): a column sum.
        if m > 0 && Tensor.isTrailing(target, of: shape) {
            Kernels.sumRows(data, rows: count / m, cols: m, into: out.data)
            return out
        }
        let rank = shape.count
        let st = Tensor.broadcastStrides(target, rank: rank, outShape: shape)
        let o = out.data, p = data
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
        Kernels.affine(data, scale: scale, shift: shift, out.data, count: count)
        guard Tensor.recording(self) else { return out }
        out.gradFn = GradFn("affine", [self]) { g in [g.scaled(scale)] }
        return out
    }

    /// A pointwise function of `Kernels.Pointwise`.
    func pointwise(_ name: String, _ f: Kernels.Pointwise) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        Kernels.pointwiseForward(f, x: data, y: out.data, count: count)
        guard Tensor.recording(self) else { return out }
        // The output's storage, not the output: the output owns this step, which must not own it.
        let y = out.storage
        out.gradFn = GradFn(name, [self]) { [self] g in
            let gi = Tensor(uninitializedShape: self.shape)
            Kernels.pointwiseBackward(f, x: self.data, y: y.pointer, dy: g.data, dx: gi.data, count: self.count)
            return [gi]
        }
        return out
    }

    /// An activation of `Kernels.Activation` (its backward reads the saved input).
    func activationOp(_ name: String, _ act: Kernels.Activation) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        Kernels.activationForward(act, x: data, y: out.data, count: count)
        guard Tensor.recording(self) else { return out }
        let y = act.backwardUsesOutput ? out.storage : nil
        out.gradFn = GradFn(name, [self]) { [self] g in
            let gi = Tensor(uninitializedShape: self.shape)
            Kernels.activationBackward(act, x: self.data, y: y.map { UnsafePointer($0.pointer) },
                                       dy: g.data, dx: gi.data, count: self.count)
            return [gi]
        }
        return out
    }

    /// e^x.
    public func exp() -> Tensor { activationOp("exp", .exp) }
    /// Natural log.
    public func log() -> Tensor { pointwise("log", .log) }
    /// Square root.
    public func sqrt() -> Tensor { pointwise("sqrt", .sqrt) }
    /// x^p for a constant exponent.
    public func pow(_ p: Float) -> Tensor { pointwise("pow", .pow(p)) }
    /// Hyperbolic tangent.
    public func tanh() -> Tensor { activationOp("tanh", .tanh) }
    /// Logistic sigmoid.
    public func sigmoid() -> Tensor { activationOp("sigmoid", .sigmoid) }
    /// max(x, 0).
    public func relu() -> Tensor { activationOp("relu", .relu) }
    /// log(sigmoid(x)), computed stably (DPO's loss).
    public func logSigmoid() -> Tensor { pointwise("logsigmoid", .logSigmoid) }
    /// Clamps into [lo, hi]; the gradient is zero where clamped.
    public func clamped(_ lo: Float, _ hi: Float) -> Tensor { pointwise("clamp", .clamp(lo, hi)) }
}
