/// CPU kernels over contiguous float32 buffers (row-major), split across `Parallel.threads`.
///
/// Conventions for every kernel in this namespace:
/// - Pointers are raw and trusted: the caller (the tensor layer) checks shapes and sizes.
///   Out-of-range *values* that can come from data (token ids, positions) are checked by the
///   kernels that read them, and reported by a thrown `HalluError`.
/// - Outputs may alias inputs of the same shape when a kernel says so (elementwise ones all do).
/// - Backward kernels overwrite their gradient outputs unless they take `accumulate: true`.
/// - Results never depend on scheduling; reductions across rows use fixed-size blocks, so they do
///   not depend on the thread count either.
public enum Kernels {
    /// Elements per thread below which elementwise work stays on one thread.
    static let grainSimple = 1 << 15
    static let grainTranscendental = 1 << 13
    /// Rows per block in reductions across rows (bias and norm weight gradients).
    static let reductionBlockRows = 32

    /// Runs `body(start, end)` over pieces of `0..<n` whose starts are multiples of 8.
    @inline(__always)
    static func spans(_ n: Int, grain: Int, _ body: (Int, Int) -> Void) {
        if n <= 0 { return }
        let blocks = (n + 7) / 8
        Parallel.forEach(count: blocks, minChunk: max(1, grain / 8)) { r in
            body(r.lowerBound * 8, min(n, r.upperBound * 8))
        }
    }

    /// y = Op(x), 8 lanes at a time; the tail goes through the same lane math.
    @inline(__always)
    static func map<Op: UnaryOp>(_: Op.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                 _ n: Int, grain: Int) {
        spans(n, grain: grain) { s, e in
            var i = s
            while i + 8 <= e { st8(y + i, Op.apply(ld8(x + i))); i += 8 }
            if i < e { stPartial(y + i, Op.apply(ldPartial(x + i, e - i)), e - i) }
        }
    }

    /// out = Op(a, b).
    @inline(__always)
    static func map2<Op: BinaryOp>(_: Op.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                   _ out: UnsafeMutablePointer<Float>, _ n: Int, grain: Int) {
        spans(n, grain: grain) { s, e in
            var i = s
            while i + 8 <= e { st8(out + i, Op.apply(ld8(a + i), ld8(b + i))); i += 8 }
            if i < e { stPartial(out + i, Op.apply(ldPartial(a + i, e - i), ldPartial(b + i, e - i)), e - i) }
        }
    }

    // MARK: - Basic arithmetic

    /// out = a + b (`count` elements; out may alias a or b).
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        map2(AddOp.self, a, b, out, count, grain: grainSimple)
    }

    /// out = a - b.
    public static func sub(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        map2(SubOp.self, a, b, out, count, grain: grainSimple)
    }

    /// out = a * b (elementwise).
    public static func mul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        map2(MulOp.self, a, b, out, count, grain: grainSimple)
    }

    /// out = alpha * x.
    public static func scale(_ x: UnsafePointer<Float>, by alpha: Float, _ out: UnsafeMutablePointer<Float>, count: Int) {
        let a = V8(repeating: alpha)
        spans(count, grain: grainSimple) { s, e in
            var i = s
            while i + 8 <= e { st8(out + i, ld8(x + i) * a); i += 8 }
            while i < e { out[i] = x[i] * alpha; i += 1 }
        }
    }

    /// y += alpha * x.
    public static func axpy(alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let a = V8(repeating: alpha)
        spans(count, grain: grainSimple) { s, e in
            var i = s
            while i + 8 <= e { st8(y + i, vfma(ld8(x + i), a, ld8(y + i))); i += 8 }
            while i < e { y[i] = y[i].addingProduct(x[i], alpha); i += 1 }
        }
    }

    /// out = alpha * x + beta * y.
    public static func axpby(alpha: Float, _ x: UnsafePointer<Float>, beta: Float, _ y: UnsafePointer<Float>,
                             _ out: UnsafeMutablePointer<Float>, count: Int) {
        let a = V8(repeating: alpha), b = V8(repeating: beta)
        spans(count, grain: grainSimple) { s, e in
            var i = s
            while i + 8 <= e { st8(out + i, vfma(ld8(x + i), a, ld8(y + i) * b)); i += 8 }
            while i < e { out[i] = (y[i] * beta).addingProduct(x[i], alpha); i += 1 }
        }
    }

    /// Sets `count` elements to `value`.
    public static func fill(_ p: UnsafeMutablePointer<Float>, value: Float, count: Int) {
        spans(count, grain: grainSimple * 2) { s, e in (p + s).update(repeating: value, count: e - s) }
    }

    /// out[r, c] = x[r, c] + bias[c] over `rows x cols` (out may alias x).
    public static func addBiasRows(_ x: UnsafePointer<Float>, bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                   rows: Int, cols: Int) {
        if rows <= 0 || cols <= 0 { return }
        Parallel.forEach(count: rows, minChunk: max(1, grainSimple / cols)) { r in
            for row in r {
                let xs = x + row * cols, ys = out + row * cols
                var i = 0
                while i + 8 <= cols { st8(ys + i, ld8(xs + i) + ld8(bias + i)); i += 8 }
                while i < cols { ys[i] = xs[i] + bias[i]; i += 1 }
            }
        }
    }

    /// out[c] (+)= sum over rows of x[r, c]: the gradient of a bias added to every row.
    /// Deterministic for any thread count (rows are summed in fixed blocks, blocks in order).
    public static func sumRows(_ x: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>,
                               accumulate: Bool = false) {
        if cols <= 0 { return }
        columnReduce(rows: rows, width: cols, into: [(out, accumulate)]) { r0, r1, acc in
            for row in r0..<r1 {
                let xs = x + row * cols
                var i = 0
                while i + 8 <= cols { st8(acc + i, ld8(acc + i) + ld8(xs + i)); i += 8 }
                while i < cols { acc[i] += xs[i]; i += 1 }
            }
        }
    }

    /// A reduction over rows that does not depend on the thread count: `block(r0, r1, acc)` adds
    /// rows `r0..<r1` (one block of `reductionBlockRows`) into a zeroed `acc` of `width` floats
    /// (it may also write per-row outputs of those rows); block partials are then added in block
    /// order. `outputs` receive consecutive slices of the `width` sums (`slice width = width /
    /// outputs.count`), each overwritten or accumulated into.
    static func columnReduce(rows: Int, width: Int, into outputs: [(UnsafeMutablePointer<Float>, Bool)],
                             _ block: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        let br = reductionBlockRows
        let blocks = max(1, (rows + br - 1) / br)
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: blocks * width)
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: blocks * width)
        if rows > 0 {
            Parallel.forEach(count: blocks, minChunk: max(1, grainSimple / (br * width))) { r in
                for b in r { block(b * br, min(rows, (b + 1) * br), partial + b * width) }
            }
        }
        let slice = width / max(1, outputs.count)
        Parallel.forEach(count: width, minChunk: 1024) { r in
            for c in r {
                var t: Float = 0
                for b in 0..<blocks { t += partial[b * width + c] }
                let (out, accumulate) = outputs[c / slice]
                let j = c % slice
                out[j] = accumulate ? out[j] + t : t
            }
        }
    }

    /// Sum of `count` elements, accumulated in double over fixed blocks (thread-count independent).
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Double {
        blockReduce(count) { s, e in
            var acc = V8(), i = s
            var d: Double = 0
            while i + 8 <= e {
                acc += ld8(x + i); i += 8
                if (i - s) & 1023 == 0 { d += Double(hsum(acc)); acc = V8() }
            }
            d += Double(hsum(acc))
            while i < e { d += Double(x[i]); i += 1 }
            return d
        }
    }

    /// Sum of squares, like `sum`.
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        blockReduce(count) { s, e in
            var acc = V8(), i = s
            var d: Double = 0
            while i + 8 <= e {
                let v = ld8(x + i); acc = vfma(v, v, acc); i += 8
                if (i - s) & 1023 == 0 { d += Double(hsum(acc)); acc = V8() }
            }
            d += Double(hsum(acc))
            while i < e { d += Double(x[i]) * Double(x[i]); i += 1 }
            return d
        }
    }

    /// Dot product of two vectors, like `sum`.
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
        blockReduce(count) { s, e in
            var acc = V8(), i = s
            var d: Double = 0
            while i + 8 <= e {
                acc = vfma(ld8(a + i), ld8(b + i), acc); i += 8
                if (i - s) & 1023 == 0 { d += Double(hsum(acc)); acc = V8() }
            }
            d += Double(hsum(acc))
            while i < e { d += Double(a[i]) * Double(b[i]); i += 1 }
            return d
        }
    }

    static let reductionBlock = 1 << 14

    static func blockReduce(_ n: Int, _ part: (Int, Int) -> Double) -> Double {
        if n <= 0 { return 0 }
        let blocks = (n + reductionBlock - 1) / reductionBlock
        if blocks == 1 { return part(0, n) }
        var partial = [Double](repeating: 0, count: blocks)
        partial.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            Parallel.forEach(count: blocks, minChunk: 2) { r in
                for b in r { base[b] = part(b * reductionBlock, min(n, (b + 1) * reductionBlock)) }
            }
        }
        var s: Double = 0
        for v in partial { s += v }
        return s
    }
}

protocol UnaryOp { static func apply(_ x: V8) -> V8 }
protocol BinaryOp { static func apply(_ a: V8, _ b: V8) -> V8 }

enum AddOp: BinaryOp { @inline(__always) static func apply(_ a: V8, _ b: V8) -> V8 { a + b } }
enum SubOp: BinaryOp { @inline(__always) static func apply(_ a: V8, _ b: V8) -> V8 { a - b } }
enum MulOp: BinaryOp { @inline(__always) static func apply(_ a: V8, _ b: V8) -> V8 { a * b } }
