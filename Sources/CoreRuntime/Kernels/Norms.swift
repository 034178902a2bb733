/// RMSNorm (Llama) and LayerNorm (CLIP) over the last dimension of `[rows, cols]`.
///
/// Statistics are per row in float32 as in PyTorch; the weight and bias gradients are summed over
/// rows in fixed blocks, so they are identical for every thread count.
extension Kernels {
    /// y = x · rstd · weight with rstd = 1/√(mean(x²) + eps), Hugging Face's `LlamaRMSNorm`.
    ///
    /// - Parameters:
    ///   - weight: `[cols]`, or nil for no scale.
    ///   - rstd: receives `[rows]` rstd for the backward pass (nil when not training).
    /// y may alias x.
    public static func rmsNormForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                                      rstd: UnsafeMutablePointer<Float>?, rows: Int, cols: Int, eps: Float) {
        rowChunks(rows: rows, cols: cols, grain: grainSimple) { r in
            let xs = x + r * cols, ys = y + r * cols
            let ms = rowDot(xs, xs, cols) / Float(cols)
            let rs = 1 / (ms + eps).squareRoot()
            rstd?[r] = rs
            let rv = V8(repeating: rs)
            var i = 0
            if let w = weight {
                while i + 8 <= cols { st8(ys + i, (ld8(xs + i) * rv) * ld8(w + i)); i += 8 }
                while i < cols { ys[i] = (xs[i] * rs) * w[i]; i += 1 }
            } else {
                while i + 8 <= cols { st8(ys + i, ld8(xs + i) * rv); i += 8 }
                while i < cols { ys[i] = xs[i] * rs; i += 1 }
            }
        }
    }

    /// Gradients of `rmsNormForward`.
    ///
    /// With x̂ = x·rstd and g = dy·weight: dx = rstd·(g - x̂·mean(g·x̂)), dweight = Σ_rows dy·x̂.
    /// - Parameters:
    ///   - dx: `[rows, cols]` (may alias dy).
    ///   - dWeight: `[cols]` or nil to skip; overwritten, or added to with `accumulate`.
    public static func rmsNormBackward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, rstd: UnsafePointer<Float>,
                                       dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                       dWeight: UnsafeMutablePointer<Float>?, accumulate: Bool = false,
                                       rows: Int, cols: Int) {
        if rows <= 0 || cols <= 0 {
            if let dw = dWeight, !accumulate, cols > 0 { dw.update(repeating: 0, count: cols) }
            return
        }
        @inline(__always) func row(_ r: Int, _ acc: UnsafeMutablePointer<Float>?) {
            let xs = x + r * cols, gs = dy + r * cols, out = dx + r * cols
            let rs = rstd[r]
            let rv = V8(repeating: rs)
            // mean(g·x̂) = rstd · mean(dy·w·x)
            var dot: Float
            if let w = weight {
                var s0 = V8(), i = 0
                while i + 8 <= cols { s0 = vfma(ld8(gs + i) * ld8(w + i), ld8(xs + i), s0); i += 8 }
                if i < cols { let n = cols - i; s0 = vfma(ldPartial(gs + i, n) * ldPartial(w + i, n), ldPartial(xs + i, n), s0) }
                dot = hsum(s0)
            } else {
                dot = rowDot(gs, xs, cols)
            }
            let c = V8(repeating: dot * rs / Float(cols))
            var i = 0
            while i + 8 <= cols {
                let xv = ld8(xs + i), d = ld8(gs + i)
                let xh = xv * rv
                let g = weight.map { d * ld8($0 + i) } ?? d
                if let a = acc { st8(a + i, vfma(d, xh, ld8(a + i))) }
                st8(out + i, rv * vfma(-xh, c, g))
                i += 8
            }
            while i < cols {
                let xh = xs[i] * rs, d = gs[i]
                let g = weight.map { d * $0[i] } ?? d
                if let a = acc { a[i] = a[i].addingProduct(d, xh) }
                out[i] = rs * g.addingProduct(-xh, c[0])
                i += 1
            }
        }
        if let dw = dWeight {
            columnReduce(rows: rows, width: cols, into: [(dw, accumulate)]) { r0, r1, acc in
                for r in r0..<r1 { row(r, acc) }
            }
        } else {
            rowChunks(rows: rows, cols: cols, grain: grainSimple) { r in row(r, nil) }
        }
    }

    /// y = (x - mean)·rstd·weight + bias with rstd = 1/√(var + eps) (biased variance), PyTorch's
    /// `LayerNorm`. `weight`/`bias` may be nil; `mean`/`rstd` receive `[rows]` when non-nil.
    /// y may alias x.
    public static func layerNormForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
                                        y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?,
                                        rstd: UnsafeMutablePointer<Float>?, rows: Int, cols: Int, eps: Float) {
        rowChunks(rows: rows, cols: cols, grain: grainSimple) { r in
            let xs = x + r * cols, ys = y + r * cols
            let mu = rowSum(xs, cols) / Float(cols)
            let mv = V8(repeating: mu)
            var s0 = V8(), i = 0
            while i + 8 <= cols { let d = ld8(xs + i) - mv; s0 = vfma(d, d, s0); i += 8 }
            if i < cols { let d = ldPartial(xs + i, cols - i, fill: mu) - mv; s0 = vfma(d, d, s0) }
            let variance = hsum(s0) / Float(cols)
            let rs = 1 / (variance + eps).squareRoot()
            mean?[r] = mu
            rstd?[r] = rs
            let rv = V8(repeating: rs)
            i = 0
            while i + 8 <= cols {
                var v = (ld8(xs + i) - mv) * rv
                if let w = weight { v = v * ld8(w + i) }
                if let b = bias { v = v + ld8(b + i) }
                st8(ys + i, v)
                i += 8
            }
            while i < cols {
                var v = (xs[i] - mu) * rs
                if let w = weight { v = v * w[i] }
                if let b = bias { v = v + b[i] }
                ys[i] = v
                i += 1
            }
        }
    }

    /// Gradients of `layerNormForward`.
    ///
    /// With x̂ = (x - mean)·rstd and g = dy·weight: dx = rstd·(g - mean(g) - x̂·mean(g·x̂)),
    /// dweight = Σ_rows dy·x̂, dbias = Σ_rows dy. `dWeight`/`dBias` may be nil; they are
    /// overwritten, or added to with `accumulate`. dx may alias dy.
    public static func layerNormBackward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                         dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                         dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
                                         accumulate: Bool = false, rows: Int, cols: Int) {
        if cols <= 0 { return }
        if rows <= 0 {
            if !accumulate { dWeight?.update(repeating: 0, count: cols); dBias?.update(repeating: 0, count: cols) }
            return
        }
        @inline(__always) func row(_ r: Int, _ accW: UnsafeMutablePointer<Float>?, _ accB: UnsafeMutablePointer<Float>?) {
            let xs = x + r * cols, gs = dy + r * cols, out = dx + r * cols
            let mu = mean[r], rs = rstd[r]
            let mv = V8(repeating: mu), rv = V8(repeating: rs)
            var sg = V8(), sgx = V8(), i = 0
            while i + 8 <= cols {
                let xh = (ld8(xs + i) - mv) * rv
                let g = weight.map { ld8(gs + i) * ld8($0 + i) } ?? ld8(gs + i)
                sg += g; sgx = vfma(g, xh, sgx)
                i += 8
            }
            if i < cols {
                let n = cols - i
                let xh = (ldPartial(xs + i, n, fill: mu) - mv) * rv
                let g = weight.map { ldPartial(gs + i, n) * ldPartial($0 + i, n) } ?? ldPartial(gs + i, n)
                sg += g; sgx = vfma(g, xh, sgx)
            }
            let a = V8(repeating: hsum(sg) / Float(cols)), b = V8(repeating: hsum(sgx) / Float(cols))
            i = 0
            while i + 8 <= cols {
                let d = ld8(gs + i)
                let xh = (ld8(xs + i) - mv) * rv
                let g = weight.map { d * ld8($0 + i) } ?? d
                if let w = accW { st8(w + i, vfma(d, xh, ld8(w + i))) }
                if let bb = accB { st8(bb + i, ld8(bb + i) + d) }
                st8(out + i, rv * (vfma(-xh, b, g) - a))
                i += 8
            }
            while i < cols {
                let d = gs[i]
                let xh = (xs[i] - mu) * rs
                let g = weight.map { d * $0[i] } ?? d
                if let w = accW { w[i] = w[i].addingProduct(d, xh) }
                if let bb = accB { bb[i] += d }
                out[i] = rs * (g.addingProduct(-xh, b[0]) - a[0])
                i += 1
            }
        }
        if dWeight == nil && dBias == nil {
            rowChunks(rows: rows, cols: cols, grain: grainSimple) { r in row(r, nil, nil) }
            return
        }
        var outs: [(UnsafeMutablePointer<Float>, Bool)] = []
        let dummy = UnsafeMutablePointer<Float>.allocate(capacity: cols)
        defer { dummy.deallocate() }
        outs.append((dWeight ?? dummy, dWeight == nil ? false : accumulate))
        outs.append((dBias ?? dummy, dBias == nil ? false : accumulate))
        columnReduce(rows: rows, width: 2 * cols, into: outs) { r0, r1, acc in
            for r in r0..<r1 { row(r, acc, acc + cols) }
        }
    }
}
