import Foundation
internal import CBF16

/// Conversions of 16-bit weights (bfloat16, IEEE binary16) to float32, eight lanes at a time.
enum HalfPrecisionKernels {
    /// Eight 16-bit values at `p` as float32: bfloat16 is the upper half of a float32 (a shift);
    /// binary16 converts in hardware (F16C's vcvtph2ps on x86-64).
    @inline(__always)
    static func load8(_ p: UnsafePointer<UInt16>, _ format: StorageFormat) -> SIMD8<Float> {
        let raw = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<UInt16>.self)
        if format == .bf16 {
            return unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: raw) &<< 16, to: SIMD8<Float>.self)
        }
        return SIMD8<Float>(unsafeBitCast(raw, to: SIMD8<Float16>.self))
    }

    @inline(__always)
    static func load1(_ p: UnsafePointer<UInt16>, _ format: StorageFormat) -> Float {
        format == .bf16 ? HalfPrecision.float(fromBFloat16: p.pointee) : Float(Float16(bitPattern: p.pointee))
    }

    /// Widens `count` elements on one thread.
    @inline(__always)
    static func widenSerial(_ src: UnsafePointer<UInt16>, format: StorageFormat, count: Int, into dst: UnsafeMutablePointer<Float>) {
        var i = 0
        if format == .bf16 {
            while i + 8 <= count { GEMM.store8(dst + i, load8(src + i, .bf16)); i += 8 }
        } else {
            while i + 8 <= count { GEMM.store8(dst + i, load8(src + i, .f16)); i += 8 }
        }
        while i < count { dst[i] = load1(src + i, format); i += 1 }
    }

    /// Widens `count` elements, split across threads.
    static func widen(_ src: UnsafePointer<UInt16>, format: StorageFormat, count: Int, into dst: UnsafeMutablePointer<Float>) {
        Parallel.forEach(count: count, minChunk: 1 << 16) { r in
            widenSerial(src + r.lowerBound, format: format, count: r.count, into: dst + r.lowerBound)
        }
    }
}

/// Matrix products with a 16-bit weight: `c = a · wᵀ + beta · c` for `a [m, k]` float32 and
/// `w [n, k]` in bfloat16 or binary16 (the `[out, in]` layout of a linear layer), accumulated in
/// float32.
///
/// Few rows (decoding, `m <= GEMM.skinnyRows`): the weight is read once from memory, widened in
/// registers and multiplied by every row of `a` (a memory-bound product, so half the bytes of a
/// float32 weight is up to twice the speed). Many rows (prefill, vision tower): threads take blocks
/// of `panelRows` weight rows, widen each block once into a float32 panel that stays in cache, and
/// run the single-threaded sgemm on it; the widening costs one pass over the weight against
/// `2·m` FLOPs per weight element. Blocks are fixed by the shape, so every element of `c` is
/// computed the same way on any thread count.
enum HalfGEMM {
    /// Weight rows widened at a time in the many-rows path (256 x 2048 floats = 2 MB per thread).
    static let panelRows = 256

    static func linear(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, w: UnsafePointer<UInt16>,
                       format: StorageFormat, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m <= 0 || n <= 0 { return }
        if k <= 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        if format == .bf16 && Kernels.usesBF16Dot {
            BF16Dot.linear(m: m, n: n, k: k, a: a, lda: lda, w: w, beta: beta, c: c, ldc: ldc)
        } else if m <= GEMM.skinnyRows {
            skinny(m: m, n: n, k: k, a: a, lda: lda, w: w, format: format, beta: beta, c: c, ldc: ldc)
        } else {
            panels(m: m, n: n, k: k, a: a, lda: lda, w: w, format: format, beta: beta, c: c, ldc: ldc)
        }
    }

    private static func panels(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, w: UnsafePointer<UInt16>,
                               format: StorageFormat, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let blocks = (n + panelRows - 1) / panelRows
        let t = max(1, min(Parallel.effectiveThreads, blocks))
        Parallel.run(chunks: t) { part in
            let mine = Parallel.chunk(part, of: t, count: blocks)
            if mine.isEmpty { return }
            let rowsMax = min(panelRows, n)
            let panel = UnsafeMutablePointer<Float>.allocate(capacity: rowsMax * k)
            defer { panel.deallocate() }
            for blk in mine {
                let j0 = blk * panelRows, rows = min(panelRows, n - j0)
                HalfPrecisionKernels.widenSerial(w + j0 * k, format: format, count: rows * k, into: panel)
                BLAS.sgemmSerial(transA: false, transB: true, m: m, n: rows, k: k, alpha: 1, a: a, lda: lda,
                                 b: panel, ldb: k, beta: beta, c: c + j0, ldc: ldc)
            }
        }
    }

    /// Columns split across threads as `GEMM.skinny` splits them. A bfloat16 weight on a CPU with
    /// AVX-512 (`avx512`) runs the C kernel of the same widening with 32 registers (a 4x4 tile of
    /// independent sums); elsewhere, and for binary16, the portable kernels below.
    static func skinny(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, w: UnsafePointer<UInt16>,
                       format: StorageFormat, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                       avx512: Bool = Kernels.hasAVX512) {
        if format == .bf16 && avx512 {
            let x = UnsafeMutablePointer<Float>.allocate(capacity: max(1, m * (k / 32 * 32)))
            defer { x.deallocate() }
            hallu_split_even_odd(a, lda, m, k, x)
            GEMM.skinnyColumns(m: m, n: n, k: k) { cols in
                hallu_bf16_widened_gemv(m, cols.count, k, a, lda, x, w + cols.lowerBound * k, k, beta, c + cols.lowerBound, ldc)
            }
        } else if format == .bf16 {
            let pairs = PairedRows(m: m, k: k, a: a, lda: lda)
            defer { pairs.deallocate() }
            GEMM.skinnyColumns(m: m, n: n, k: k) { cols in
                skinnyDotBF16(m: m, cols: cols, k: k, a: a, lda: lda, x: pairs, w: w, beta: beta, c: c, ldc: ldc)
            }
        } else {
            GEMM.skinnyColumns(m: m, n: n, k: k) { cols in
                skinnyDot(m: m, cols: cols, k: k, a: a, lda: lda, w: w, format: .f16, beta: beta, c: c, ldc: ldc)
            }
        }
    }

    /// The rows of `a` with each block of 16 columns reordered as its 8 even then its 8 odd
    /// columns: the order in which `skinnyDotBF16` reads a block of 16 bfloat16 weights.
    private struct PairedRows {
        let k16: Int
        let base: UnsafeMutablePointer<Float>

        init(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int) {
            k16 = k & ~15
            base = .allocate(capacity: max(1, m * k16))
            for i in 0..<m {
                let src = a + i * lda, dst = base + i * k16
                var p = 0
                while p < k16 {
                    for q in 0..<8 { dst[p + q] = src[p + 2 * q]; dst[p + 8 + q] = src[p + 2 * q + 1] }
                    p += 16
                }
            }
        }

        func row(_ i: Int) -> UnsafePointer<Float> { UnsafePointer(base + i * k16) }
        func deallocate() { base.deallocate() }
    }

    /// `skinnyDot` for bfloat16 without a per-lane conversion: 16 weights are read as eight 32-bit
    /// lanes, each holding an even element (low half) and an odd one (high half). `lane << 16` is
    /// the even element as a float32 and `lane & 0xFFFF0000` the odd one, both exact, and the
    /// activations come in the same order (`PairedRows`). (Widening through
    /// `SIMD8<UInt32>(truncatingIfNeeded:)` was left as an out-of-line call in this loop by the
    /// optimiser, which halved decoding speed.)
    @inline(__always)
    private static func skinnyDotBF16(m: Int, cols: Range<Int>, k: Int, a: UnsafePointer<Float>, lda: Int, x: PairedRows,
                                      w: UnsafePointer<UInt16>, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let k16 = x.k16
        let high = SIMD8<UInt32>(repeating: 0xFFFF_0000)
        @inline(__always) func product(_ s: SIMD8<Float>, _ xe: SIMD8<Float>, _ xo: SIMD8<Float>, _ wp: UnsafePointer<UInt16>) -> SIMD8<Float> {
            let u = UnsafeRawPointer(wp).loadUnaligned(as: SIMD8<UInt32>.self)
            return s.addingProduct(xe, unsafeBitCast(u &<< 16, to: SIMD8<Float>.self))
                .addingProduct(xo, unsafeBitCast(u & high, to: SIMD8<Float>.self))
        }
        var j = cols.lowerBound
        while j < cols.upperBound {
            let nb = min(4, cols.upperBound - j)
            let w0 = w + j * k
            let w1 = nb > 1 ? w0 + k : w0, w2 = nb > 2 ? w0 + 2 * k : w0, w3 = nb > 3 ? w0 + 3 * k : w0
            var i = 0
            while i < m {
                let pair = i + 1 < m
                let a0 = a + i * lda, a1 = pair ? a0 + lda : a0
                let x0 = x.row(i), x1 = pair ? x.row(i + 1) : x0
                var s00 = SIMD8<Float>(), s01 = SIMD8<Float>(), s02 = SIMD8<Float>(), s03 = SIMD8<Float>()
                var s10 = SIMD8<Float>(), s11 = SIMD8<Float>(), s12 = SIMD8<Float>(), s13 = SIMD8<Float>()
                var p = 0
                while p < k16 {
                    let e0 = GEMM.load8(x0 + p), o0 = GEMM.load8(x0 + p + 8)
                    let e1 = GEMM.load8(x1 + p), o1 = GEMM.load8(x1 + p + 8)
                    s00 = product(s00, e0, o0, w0 + p); s10 = product(s10, e1, o1, w0 + p)
                    s01 = product(s01, e0, o0, w1 + p); s11 = product(s11, e1, o1, w1 + p)
                    s02 = product(s02, e0, o0, w2 + p); s12 = product(s12, e1, o1, w2 + p)
                    s03 = product(s03, e0, o0, w3 + p); s13 = product(s13, e1, o1, w3 + p)
                    p += 16
                }
                var r0 = GEMM.hsum4(s00, s01, s02, s03), r1 = GEMM.hsum4(s10, s11, s12, s13)
                while p < k {
                    let v = SIMD4<Float>(HalfPrecision.float(fromBFloat16: w0[p]), HalfPrecision.float(fromBFloat16: w1[p]),
                                         HalfPrecision.float(fromBFloat16: w2[p]), HalfPrecision.float(fromBFloat16: w3[p]))
                    r0 = r0.addingProduct(a0[p], v); r1 = r1.addingProduct(a1[p], v)
                    p += 1
                }
                for q in 0..<nb {
                    GEMM.store(c + i * ldc + j + q, r0[q], alpha: 1, beta: beta)
                    if pair { GEMM.store(c + (i + 1) * ldc + j + q, r1[q], alpha: 1, beta: beta) }
                }
                i += 2
            }
            j += 4
        }
    }

    /// c[i, j] = Σ_p a[i, p] w[j, p] for j in `cols`: four weight rows widened per step of eight,
    /// two rows of `a` at a time (eight accumulators); the four rows stay in L1 for the next pair.
    @inline(__always)
    private static func skinnyDot(m: Int, cols: Range<Int>, k: Int, a: UnsafePointer<Float>, lda: Int,
                                  w: UnsafePointer<UInt16>, format: StorageFormat, beta: Float,
                                  c: UnsafeMutablePointer<Float>, ldc: Int) {
        let k8 = k & ~7
        var j = cols.lowerBound
        while j < cols.upperBound {
            let nb = min(4, cols.upperBound - j)
            let w0 = w + j * k
            let w1 = nb > 1 ? w0 + k : w0, w2 = nb > 2 ? w0 + 2 * k : w0, w3 = nb > 3 ? w0 + 3 * k : w0
            var i = 0
            while i < m {
                let pair = i + 1 < m
                let a0 = a + i * lda, a1 = pair ? a0 + lda : a0
                var s00 = SIMD8<Float>(), s01 = SIMD8<Float>(), s02 = SIMD8<Float>(), s03 = SIMD8<Float>()
                var s10 = SIMD8<Float>(), s11 = SIMD8<Float>(), s12 = SIMD8<Float>(), s13 = SIMD8<Float>()
                var p = 0
                while p < k8 {
                    let x0 = GEMM.load8(a0 + p), x1 = GEMM.load8(a1 + p)
                    var v = HalfPrecisionKernels.load8(w0 + p, format)
                    s00 = s00.addingProduct(x0, v); s10 = s10.addingProduct(x1, v)
                    v = HalfPrecisionKernels.load8(w1 + p, format)
                    s01 = s01.addingProduct(x0, v); s11 = s11.addingProduct(x1, v)
                    v = HalfPrecisionKernels.load8(w2 + p, format)
                    s02 = s02.addingProduct(x0, v); s12 = s12.addingProduct(x1, v)
                    v = HalfPrecisionKernels.load8(w3 + p, format)
                    s03 = s03.addingProduct(x0, v); s13 = s13.addingProduct(x1, v)
                    p += 8
                }
                var r0 = GEMM.hsum4(s00, s01, s02, s03), r1 = GEMM.hsum4(s10, s11, s12, s13)
                while p < k {
                    let v = SIMD4<Float>(HalfPrecisionKernels.load1(w0 + p, format), HalfPrecisionKernels.load1(w1 + p, format),
                                         HalfPrecisionKernels.load1(w2 + p, format), HalfPrecisionKernels.load1(w3 + p, format))
                    r0 = r0.addingProduct(a0[p], v); r1 = r1.addingProduct(a1[p], v)
                    p += 1
                }
                for q in 0..<nb {
                    GEMM.store(c + i * ldc + j + q, r0[q], alpha: 1, beta: beta)
                    if pair { GEMM.store(c + (i + 1) * ldc + j + q, r1[q], alpha: 1, beta: beta) }
                }
                i += 2
            }
            j += 4
        }
    }
}
