import Foundation

/// Row-wise softmax family over `[rows, cols]`.
///
/// A row whose entries are all -inf (fully masked) gives zeros from softmax, -inf from
/// log-softmax and logsumexp, and zero gradients, instead of NaN.
extension Kernels {
    @inline(__always)
    static func rowChunks(rows: Int, cols: Int, grain: Int = grainTranscendental, _ body: (Int) -> Void) {
        if rows <= 0 || cols <= 0 { return }
        Parallel.forEach(count: rows, minChunk: max(1, grain / cols)) { r in for row in r { body(row) } }
    }

    /// Largest entry of a row (-inf for an empty or all -inf row).
    @inline(__always)
    static func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m0 = V8(repeating: -.infinity), m1 = m0
        var i = 0
        while i + 16 <= n { m0 = vmax(m0, ld8(x + i)); m1 = vmax(m1, ld8(x + i + 8)); i += 16 }
        if i + 8 <= n { m0 = vmax(m0, ld8(x + i)); i += 8 }
        if i < n { m1 = vmax(m1, ldPartial(x + i, n - i, fill: -.infinity)) }
        return hmax(vmax(m0, m1))
    }

    /// Writes e^(x - shift) to y (y may be x) and returns the sum.
    @inline(__always)
    static func expShiftSum(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        let sh = V8(repeating: shift)
        var s0 = V8(), s1 = V8()
        var i = 0
        while i + 16 <= n {
            let e0 = vexpNonPositive(ld8(x + i) - sh), e1 = vexpNonPositive(ld8(x + i + 8) - sh)
            st8(y + i, e0); st8(y + i + 8, e1)
            s0 += e0; s1 += e1
            i += 16
        }
        if i + 8 <= n { let e = vexpNonPositive(ld8(x + i) - sh); st8(y + i, e); s0 += e; i += 8 }
        if i < n {
            let e = vexpNonPositive(ldPartial(x + i, n - i, fill: -.infinity) - sh)
            stPartial(y + i, e, n - i); s1 += e
        }
        return hsum(s0 + s1)
    }

    /// Sum of e^(x - shift) without storing it.
    @inline(__always)
    static func expShiftSumOnly(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        let sh = V8(repeating: shift)
        var s0 = V8(), s1 = V8()
        var i = 0
        while i + 16 <= n { s0 += vexpNonPositive(ld8(x + i) - sh); s1 += vexpNonPositive(ld8(x + i + 8) - sh); i += 16 }
        if i + 8 <= n { s0 += vexpNonPositive(ld8(x + i) - sh); i += 8 }
        if i < n { s1 += vexpNonPositive(ldPartial(x + i, n - i, fill: -.infinity) - sh) }
        return hsum(s0 + s1)
    }

    @inline(__always)
    static func rowDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0 = V8(), s1 = V8()
        var i = 0
        while i + 16 <= n { s0 = vfma(ld8(a + i), ld8(b + i), s0); s1 = vfma(ld8(a + i + 8), ld8(b + i + 8), s1); i += 16 }
        if i + 8 <= n { s0 = vfma(ld8(a + i), ld8(b + i), s0); i += 8 }
        if i < n { s1 = vfma(ldPartial(a + i, n - i), ldPartial(b + i, n - i), s1) }
        return hsum(s0 + s1)
    }

    @inline(__always)
    static func rowSum(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0 = V8(), s1 = V8()
        var i = 0
        while i + 16 <= n { s0 += ld8(a + i); s1 += ld8(a + i + 8); i += 16 }
        if i + 8 <= n { s0 += ld8(a + i); i += 8 }
        if i < n { s1 += ldPartial(a + i, n - i) }
        return hsum(s0 + s1)
    }

    @inline(__always)
    static func rowScale(_ y: UnsafeMutablePointer<Float>, _ n: Int, _ s: Float) {
        let v = V8(repeating: s)
        var i = 0
        while i + 8 <= n { st8(y + i, ld8(y + i) * v); i += 8 }
        while i < n { y[i] *= s; i += 1 }
    }

    /// One softmax row (y may be x); a row with no finite maximum becomes zeros.
    @inline(__always)
    static func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let m = rowMax(x, n)
        if m == -.infinity { y.update(repeating: 0, count: n); return }
        let s = expShiftSum(x, y, n, shift: m)
        rowScale(y, n, 1 / s)
    }

    /// y = softmax(x) along each row (y may alias x).
    public static func softmaxForward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        rowChunks(rows: rows, cols: cols) { r in softmaxRow(x + r * cols, y + r * cols, cols) }
    }

    /// dx = y ⊙ (dy - Σ dy⊙y) along each row, from the softmax output y (dx may alias dy).
    public static func softmaxBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                       rows: Int, cols: Int) {
        rowChunks(rows: rows, cols: cols, grain: grainSimple) { r in
            let ys = y + r * cols, gs = dy + r * cols, out = dx + r * cols
            let d = V8(repeating: rowDot(ys, gs, cols))
            var i = 0
            while i + 8 <= cols { st8(out + i, ld8(ys + i) * (ld8(gs + i) - d)); i += 8 }
            while i < cols { out[i] = ys[i] * (gs[i] - d[0]); i += 1 }
        }
    }

    /// y = x - logsumexp(x) along each row (y may alias x).
    public static func logSoftmaxForward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        rowChunks(rows: rows, cols: cols) { r in
            let xs = x + r * cols, ys = y + r * cols
            let lse = rowLogSumExp(xs, cols)
            if lse == -.infinity { ys.update(repeating: -.infinity, count: cols); return }
            let v = V8(repeating: lse)
            var i = 0
            while i + 8 <= cols { st8(ys + i, ld8(xs + i) - v); i += 8 }
            while i < cols { ys[i] = xs[i] - lse; i += 1 }
        }
    }

    /// dx = dy - softmax ⊙ Σ dy along each row, from the log-softmax output y (dx may alias dy).
    public static func logSoftmaxBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                          rows: Int, cols: Int) {
        rowChunks(rows: rows, cols: cols) { r in
            let ys = y + r * cols, gs = dy + r * cols, out = dx + r * cols
            let s = V8(repeating: rowSum(gs, cols))
            var i = 0
            while i + 8 <= cols { st8(out + i, ld8(gs + i) - vexpNonPositive(ld8(ys + i)) * s); i += 8 }
            if i < cols {
                let n = cols - i
                stPartial(out + i, ldPartial(gs + i, n) - vexpNonPositive(ldPartial(ys + i, n, fill: -.infinity)) * s, n)
            }
        }
    }

    /// log Σ e^x of one row (-inf when every entry is -inf).
    @inline(__always)
    static func rowLogSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let m = rowMax(x, n)
        if m == -.infinity || m == .infinity { return m }
        return m + Foundation.log(expShiftSumOnly(x, n, shift: m))
    }

    /// out[r] = log Σ_c e^x[r, c].
    public static func logSumExpForward(x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        rowChunks(rows: rows, cols: cols) { r in out[r] = rowLogSumExp(x + r * cols, cols) }
    }

    /// dx[r, c] = dOut[r] · e^(x[r, c] - lse[r]) (zero for a row whose lse is -inf).
    public static func logSumExpBackward(x: UnsafePointer<Float>, lse: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                                         dx: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        rowChunks(rows: rows, cols: cols) { r in
            let xs = x + r * cols, out = dx + r * cols
            let l = lse[r]
            if l == -.infinity { out.update(repeating: 0, count: cols); return }
            let g = V8(repeating: dOut[r]), lv = V8(repeating: l)
            var i = 0
            while i + 8 <= cols { st8(out + i, g * vexpNonPositive(ld8(xs + i) - lv)); i += 8 }
            if i < cols { stPartial(out + i, g * vexpNonPositive(ldPartial(xs + i, cols - i) - lv), cols - i) }
        }
    }
}
