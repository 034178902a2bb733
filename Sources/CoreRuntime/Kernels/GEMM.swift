/// The built-in single-precision matrix product, used when no CBLAS library is available.
///
/// Blocked in the usual way for caches: `kc` rows of op(B) by `nc` columns are packed into
/// 16-column panels, `mc` rows of op(A) by `kc` into 6-row panels, and a 6x16 register tile
/// (twelve 8-lane FMA accumulators) walks over them. Threads split the rows of C (or its columns
/// when there are few rows); the k loop is blocked identically whatever the split, so each element
/// of C is computed the same way on any thread count.
public enum GEMM {
    static let mr = 6
    static let nr = 16
    static let kc = 256
    static let mc = 144
    static let nc = 2048

    /// `c = alpha * op(a) * op(b) + beta * c` (row-major; see `BLAS.sgemm` for the argument
    /// conventions). `threads` caps the threads used (default `Parallel.threads`).
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int? = nil) {
        if m <= 0 || n <= 0 { return }
        if k <= 0 || alpha == 0 {
            scale(c: c, ldc: ldc, m: m, n: n, beta: beta)
            return
        }
        partitioned(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                    threads: threads, rowUnit: mr, columnUnit: nr) { ta, tb, m, n, k, a, lda, b, ldb, c, ldc in
            serial(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                   beta: beta, c: c, ldc: ldc)
        }
    }

    /// One thread's product: `c = op(a) op(b)` for the block it was given (alpha and beta are the caller's).
    typealias SerialProduct = (Bool, Bool, Int, Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int,
                               UnsafeMutablePointer<Float>, Int) -> Void

    /// Splits a product across `Parallel` threads and runs `serial` on each block: the rows of C in
    /// whole units of `rowUnit` when there are two units per thread, else its columns in units of
    /// `columnUnit`. Each block packs the whole of the operand it does not split; rows are cut even
    /// when C is wider than tall, because cutting the columns of the LM head's product (640x1000,
    /// k 64) ran single-threaded OpenBLAS at half the speed (`hallu bench kernels`). The k loop is
    /// never split, and the cut depends only on the sizes and the thread count, so every element of
    /// C is computed the same way on every run with that thread count.
    static func partitioned(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int?, rowUnit: Int, columnUnit: Int,
                            _ serial: SerialProduct) {
        let t = max(1, min(threads ?? Parallel.threads, Parallel.effectiveThreads))
        // Splitting below ~1 MFLOP costs more in wake-ups than it saves.
        let work = m * n * k
        var parts = 1
        var byRows = true
        if t > 1 && work >= 1 << 17 {
            let rowsOK = m >= t * 2 * rowUnit, colsOK = n >= t * 2 * columnUnit
            if rowsOK {
                parts = t
            } else if colsOK {
                parts = t; byRows = false
            }
        }
        if parts == 1 {
            serial(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
            return
        }
        // Cut along whole units so that tile boundaries match the serial case.
        let unit = byRows ? rowUnit : columnUnit
        let total = byRows ? m : n
        let tiles = (total + unit - 1) / unit
        Parallel.run(chunks: parts) { p in
            let t0 = Parallel.chunk(p, of: parts, count: tiles)
            let lo = t0.lowerBound * unit, hi = min(total, t0.upperBound * unit)
            if lo >= hi { return }
            if byRows {
                serial(transA, transB, hi - lo, n, k, transA ? a + lo : a + lo * lda, lda, b, ldb, c + lo * ldc, ldc)
            } else {
                serial(transA, transB, m, hi - lo, k, a, lda, transB ? b + lo * ldb : b + lo, ldb, c + lo, ldc)
            }
        }
    }

    private static func scale(c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, beta: Float) {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 {
                row.update(repeating: 0, count: n)
            } else if beta != 1 {
                for j in 0..<n { row[j] *= beta }
            }
        }
    }

    /// The part of a causal attention product that can be nonzero, row by row of C. Query i sees
    /// keys j <= i + offset; register tiles (6 rows) outside the band are skipped, so a square
    /// product of a sequence with itself does about half the work.
    enum CausalBand {
        /// Scores, C = q kᵀ: row i needs columns j <= i + offset. Tiles right of a tile's last
        /// needed column are not computed; the rest of a 16-column panel past it may be written,
        /// and what lies past a row's band is left to the caller.
        case columns(offset: Int)
        /// Probabilities times values, C = P v (or dS k): op(A)[i, p] = 0 for p > i + offset, so a
        /// tile's k loop stops after its last row's band.
        case kUpTo(offset: Int)
        /// Transposed probabilities, C = Pᵀ dO (or dSᵀ q): op(A)[j, p] = P[p, j] = 0 for
        /// p < j - offset, so a tile's k loop starts at its first row's band.
        case kFrom(offset: Int)
    }

    /// One thread's share: the whole blocked loop nest. With a `band`, only the tiles and k ranges
    /// it names are computed; skipping terms whose A entries are zero leaves every computed element
    /// exactly as the full product would give it.
    static func serial(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                       a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                       beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, band: CausalBand? = nil) {
        let ncMax = min(nc, (n + nr - 1) / nr * nr)
        let kcMax = min(kc, k)
        let mcMax = min(mc, (m + mr - 1) / mr * mr)
        let bp = UnsafeMutableRawPointer.allocate(byteCount: kcMax * ncMax * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: kcMax * ncMax)
        let ap = UnsafeMutableRawPointer.allocate(byteCount: kcMax * mcMax * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: kcMax * mcMax)
        defer { bp.deallocate(); ap.deallocate() }
        var jc = 0
        while jc < n {
            let ncur = min(nc, n - jc)
            var pc = 0
            while pc < k {
                let kcur = min(kc, k - pc)
                packB(transB: transB, b: b, ldb: ldb, p0: pc, j0: jc, kc: kcur, nc: ncur, dst: bp)
                let betaNow: Float = pc == 0 ? beta : 1
                var ic = 0
                while ic < m {
                    let mcur = min(mc, m - ic)
                    packA(transA: transA, a: a, lda: lda, i0: ic, p0: pc, mc: mcur, kc: kcur, dst: ap)
                    var jr = 0
                    while jr < ncur {
                        let cols = min(nr, ncur - jr)
                        let bPanel = UnsafePointer(bp + jr * kcur)
                        var ir = 0
                        while ir < mcur {
                            let rows = min(mr, mcur - ir)
                            var lo = 0, hi = kcur
                            if let band {
                                let first = ic + ir, end = first + rows  // the tile's rows of C
                                switch band {
                                case .columns(let offset):
                                    if jc + jr >= end + offset { ir += mr; continue }
                                case .kUpTo(let offset): hi = max(0, min(kcur, end + offset - pc))
                                case .kFrom(let offset): lo = min(kcur, max(0, first - offset - pc))
                                }
                                // An empty k range still applies beta in the first k block.
                                if hi <= lo {
                                    if pc > 0 { ir += mr; continue }
                                    lo = 0; hi = 0
                                }
                            }
                            kernel6x16(kc: hi - lo, a: UnsafePointer(ap + ir * kcur + lo * mr), b: bPanel + lo * nr,
                                       c: c + (ic + ir) * ldc + jc + jr, ldc: ldc, rows: rows, cols: cols,
                                       alpha: alpha, beta: betaNow)
                            ir += mr
                        }
                        jr += nr
                    }
                    ic += mc
                }
                pc += kc
            }
            jc += nc
        }
    }

    /// Packs op(A)[i0..<i0+mc, p0..<p0+kc] into 6-row panels, `dst[panel][p*6 + r]`, zero-padded.
    @inline(__always)
    static func packA(transA: Bool, a: UnsafePointer<Float>, lda: Int, i0: Int, p0: Int, mc: Int, kc: Int,
                      dst: UnsafeMutablePointer<Float>) {
        var i = 0
        var d = dst
        while i < mc {
            let rows = min(mr, mc - i)
            if transA {
                // op(A)[r][p] = a[p*lda + r]: six neighbours per p are contiguous.
                let src = a + p0 * lda + i0 + i
                if rows == mr {
                    for p in 0..<kc {
                        let s = src + p * lda
                        d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; d[3] = s[3]; d[4] = s[4]; d[5] = s[5]
                        d += mr
                    }
                } else {
                    for p in 0..<kc {
                        let s = src + p * lda
                        for r in 0..<mr { d[r] = r < rows ? s[r] : 0 }
                        d += mr
                    }
                }
            } else {
                let src = a + (i0 + i) * lda + p0
                if rows == mr {
                    let s0 = src, s1 = src + lda, s2 = src + 2 * lda, s3 = src + 3 * lda, s4 = src + 4 * lda, s5 = src + 5 * lda
                    var p = 0
                    while p + 8 <= kc {
                        let v0 = load8(s0 + p), v1 = load8(s1 + p), v2 = load8(s2 + p)
                        let v3 = load8(s3 + p), v4 = load8(s4 + p), v5 = load8(s5 + p)
                        for q in 0..<8 {
                            d[0] = v0[q]; d[1] = v1[q]; d[2] = v2[q]; d[3] = v3[q]; d[4] = v4[q]; d[5] = v5[q]
                            d += mr
                        }
                        p += 8
                    }
                    while p < kc {
                        d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p]
                        d += mr
                        p += 1
                    }
                } else {
                    for p in 0..<kc {
                        for r in 0..<mr { d[r] = r < rows ? src[r * lda + p] : 0 }
                        d += mr
                    }
                }
            }
            i += mr
        }
    }

    /// Packs op(B)[p0..<p0+kc, j0..<j0+nc] into 16-column panels, `dst[panel][p*16 + c]`, zero-padded.
    @inline(__always)
    static func packB(transB: Bool, b: UnsafePointer<Float>, ldb: Int, p0: Int, j0: Int, kc: Int, nc: Int,
                      dst: UnsafeMutablePointer<Float>) {
        var j = 0
        var d = dst
        while j < nc {
            let cols = min(nr, nc - j)
            if !transB {
                let src = b + p0 * ldb + j0 + j
                if cols == nr {
                    for p in 0..<kc {
                        let s = src + p * ldb
                        store8(d, load8(s))
                        store8(d + 8, load8(s + 8))
                        d += nr
                    }
                } else {
                    for p in 0..<kc {
                        let s = src + p * ldb
                        for q in 0..<nr { d[q] = q < cols ? s[q] : 0 }
                        d += nr
                    }
                }
            } else {
                // op(B)[p][c] = b[c*ldb + p]: transpose 16 rows of b, 8 values of p at a time.
                let src = b + (j0 + j) * ldb + p0
                if cols == nr {
                    var p = 0
                    while p + 8 <= kc {
                        for q in 0..<nr {
                            let v = load8(src + q * ldb + p)
                            for s in 0..<8 { d[s * nr + q] = v[s] }
                        }
                        d += 8 * nr
                        p += 8
                    }
                    while p < kc {
                        for q in 0..<nr { d[q] = src[q * ldb + p] }
                        d += nr
                        p += 1
                    }
                } else {
                    for p in 0..<kc {
                        for q in 0..<nr { d[q] = q < cols ? src[q * ldb + p] : 0 }
                        d += nr
                    }
                }
            }
            j += nr
        }
    }

    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }
    @inline(__always) static func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }
    @inline(__always) static func store8(_ p: UnsafeMutablePointer<Float>, _ v: SIMD8<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// The register tile: `C[0..<rows, 0..<cols] = alpha * Ap * Bp + beta * C` over `kc` steps.
    @inline(__always)
    static func kernel6x16(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                           alpha: Float, beta: Float) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>()
        var c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>()
        var c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(), c41 = SIMD8<Float>()
        var c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
        var pa = a, pb = b
        for _ in 0..<kc {
            let b0 = load8(pb), b1 = load8(pb + 8)
            var x = SIMD8<Float>(repeating: pa[0])
            c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
            x = SIMD8<Float>(repeating: pa[1])
            c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
            x = SIMD8<Float>(repeating: pa[2])
            c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
            x = SIMD8<Float>(repeating: pa[3])
            c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
            x = SIMD8<Float>(repeating: pa[4])
            c40 = c40.addingProduct(x, b0); c41 = c41.addingProduct(x, b1)
            x = SIMD8<Float>(repeating: pa[5])
            c50 = c50.addingProduct(x, b0); c51 = c51.addingProduct(x, b1)
            pa += mr; pb += nr
        }
        if rows == mr && cols == nr {
            storeRow(c, c00, c01, alpha, beta)
            storeRow(c + ldc, c10, c11, alpha, beta)
            storeRow(c + 2 * ldc, c20, c21, alpha, beta)
            storeRow(c + 3 * ldc, c30, c31, alpha, beta)
            storeRow(c + 4 * ldc, c40, c41, alpha, beta)
            storeRow(c + 5 * ldc, c50, c51, alpha, beta)
            return
        }
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 12) { t in
            t[0] = c00; t[1] = c01; t[2] = c10; t[3] = c11; t[4] = c20; t[5] = c21
            t[6] = c30; t[7] = c31; t[8] = c40; t[9] = c41; t[10] = c50; t[11] = c51
            let f = UnsafeRawPointer(t.baseAddress!).assumingMemoryBound(to: Float.self)
            for r in 0..<rows {
                let row = c + r * ldc
                // Same roundings as storeRow, so edge tiles match full ones.
                for j in 0..<cols {
                    let v = f[r * nr + j]
                    if beta == 0 {
                        row[j] = v * alpha
                    } else if beta == 1 {
                        row[j] = row[j].addingProduct(v, alpha)
                    } else {
                        row[j] = (row[j] * beta).addingProduct(v, alpha)
                    }
                }
            }
        }
    }

    @inline(__always)
    static func storeRow(_ p: UnsafeMutablePointer<Float>, _ v0: SIMD8<Float>, _ v1: SIMD8<Float>,
                         _ alpha: Float, _ beta: Float) {
        let al = SIMD8<Float>(repeating: alpha)
        if beta == 0 {
            store8(p, v0 * al); store8(p + 8, v1 * al)
        } else if beta == 1 {
            store8(p, load8(p).addingProduct(v0, al)); store8(p + 8, load8(p + 8).addingProduct(v1, al))
        } else {
            let be = SIMD8<Float>(repeating: beta)
            store8(p, (load8(p) * be).addingProduct(v0, al))
            store8(p + 8, (load8(p + 8) * be).addingProduct(v1, al))
        }
    }
}

extension GEMM {
    /// Rows of A up to which `skinny` beats a packed product: a decoding step multiplies a handful
    /// of rows by every weight, and packing the weight would cost as much as the product.
    static let skinnyRows = 8

    /// `c = alpha * a * op(b) + beta * c` for few rows of A (no transpose of A), reading B in place
    /// (no packing). With `transB`, each output is a dot product of a row of A and a row of B;
    /// without, a sum of rows of B weighted by A. Columns are split across threads for large
    /// products; every element is computed the same way whatever the split.
    static func skinny(transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                       a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                       beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int? = nil) {
        if m <= 0 || n <= 0 { return }
        skinnyColumns(m: m, n: n, k: k, threads: threads) { cols in
            if transB {
                skinnyDot(m: m, cols: cols, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            } else {
                skinnyAxpy(m: m, cols: cols, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            }
        }
    }

    /// Splits the columns of a few-row product across threads in blocks of 32 (one thread below
    /// 64K multiply-adds); the cut depends only on the sizes and the thread count.
    static func skinnyColumns(m: Int, n: Int, k: Int, threads: Int? = nil, _ run: (Range<Int>) -> Void) {
        let t = max(1, min(threads ?? Parallel.threads, Parallel.effectiveThreads))
        let blocks = (n + 31) / 32
        let parts = t > 1 && m * n * k >= 1 << 16 ? min(t, blocks) : 1
        if parts == 1 { run(0..<n); return }
        Parallel.run(chunks: parts) { p in
            let r = Parallel.chunk(p, of: parts, count: blocks)
            let lo = r.lowerBound * 32, hi = min(n, r.upperBound * 32)
            if lo < hi { run(lo..<hi) }
        }
    }

    @inline(__always)
    static func store(_ p: UnsafeMutablePointer<Float>, _ v: Float, alpha: Float, beta: Float) {
        p.pointee = beta == 0 ? v * alpha : (beta == 1 ? p.pointee.addingProduct(v, alpha) : (p.pointee * beta).addingProduct(v, alpha))
    }

    /// The four lane sums of four vectors, each summed in `hsum`'s order.
    @inline(__always)
    static func hsum4(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>) -> SIMD4<Float> {
        let a4 = a.lowHalf + a.highHalf, b4 = b.lowHalf + b.highHalf
        let c4 = c.lowHalf + c.highHalf, d4 = d.lowHalf + d.highHalf
        let ab = SIMD4(lowHalf: a4.lowHalf + a4.highHalf, highHalf: b4.lowHalf + b4.highHalf)
        let cd = SIMD4(lowHalf: c4.lowHalf + c4.highHalf, highHalf: d4.lowHalf + d4.highHalf)
        return SIMD4(lowHalf: ab.evenHalf, highHalf: cd.evenHalf) + SIMD4(lowHalf: ab.oddHalf, highHalf: cd.oddHalf)
    }

    /// c[i, j] = Σ_p a[i, p] b[j, p] for j in `cols`: a tile of two rows of A by four rows of B
    /// (eight accumulators), SIMD along p.
    private static func skinnyDot(m: Int, cols: Range<Int>, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                  b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let k8 = k & ~7
        var j = cols.lowerBound
        while j < cols.upperBound {
            let nb = min(4, cols.upperBound - j)
            let b0 = b + j * ldb
            let b1 = nb > 1 ? b0 + ldb : b0, b2 = nb > 2 ? b0 + 2 * ldb : b0, b3 = nb > 3 ? b0 + 3 * ldb : b0
            var i = 0
            while i + 1 < m {
                let a0 = a + i * lda, a1 = a0 + lda
                var s00 = SIMD8<Float>(), s01 = SIMD8<Float>(), s02 = SIMD8<Float>(), s03 = SIMD8<Float>()
                var s10 = SIMD8<Float>(), s11 = SIMD8<Float>(), s12 = SIMD8<Float>(), s13 = SIMD8<Float>()
                var p = 0
                while p < k8 {
                    let x0 = load8(a0 + p), x1 = load8(a1 + p)
                    var w = load8(b0 + p)
                    s00 = s00.addingProduct(x0, w); s10 = s10.addingProduct(x1, w)
                    w = load8(b1 + p)
                    s01 = s01.addingProduct(x0, w); s11 = s11.addingProduct(x1, w)
                    w = load8(b2 + p)
                    s02 = s02.addingProduct(x0, w); s12 = s12.addingProduct(x1, w)
                    w = load8(b3 + p)
                    s03 = s03.addingProduct(x0, w); s13 = s13.addingProduct(x1, w)
                    p += 8
                }
                var r0 = hsum4(s00, s01, s02, s03), r1 = hsum4(s10, s11, s12, s13)
                while p < k {
                    let w = SIMD4<Float>(b0[p], b1[p], b2[p], b3[p])
                    r0 = r0.addingProduct(a0[p], w); r1 = r1.addingProduct(a1[p], w)
                    p += 1
                }
                for q in 0..<nb {
                    store(c + i * ldc + j + q, r0[q], alpha: alpha, beta: beta)
                    store(c + (i + 1) * ldc + j + q, r1[q], alpha: alpha, beta: beta)
                }
                i += 2
            }
            if i < m {
                // The last row alone: the same sums in the same order as in a pair.
                let a0 = a + i * lda
                var s00 = SIMD8<Float>(), s01 = SIMD8<Float>(), s02 = SIMD8<Float>(), s03 = SIMD8<Float>()
                var p = 0
                while p < k8 {
                    let x0 = load8(a0 + p)
                    s00 = s00.addingProduct(x0, load8(b0 + p)); s01 = s01.addingProduct(x0, load8(b1 + p))
                    s02 = s02.addingProduct(x0, load8(b2 + p)); s03 = s03.addingProduct(x0, load8(b3 + p))
                    p += 8
                }
                var r0 = hsum4(s00, s01, s02, s03)
                while p < k {
                    r0 = r0.addingProduct(a0[p], SIMD4<Float>(b0[p], b1[p], b2[p], b3[p]))
                    p += 1
                }
                for q in 0..<nb { store(c + i * ldc + j + q, r0[q], alpha: alpha, beta: beta) }
            }
            j += 4
        }
    }

    /// c[i, cols] = Σ_p a[i, p] b[p, cols]: 32 columns at a time, SIMD along the columns.
    private static func skinnyAxpy(m: Int, cols: Range<Int>, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                   b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        var j = cols.lowerBound
        while j < cols.upperBound {
            let w = min(32, cols.upperBound - j)
            for i in 0..<m {
                let ar = a + i * lda
                var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
                if w == 32 {
                    for p in 0..<k {
                        let x = SIMD8<Float>(repeating: ar[p]), br = b + p * ldb + j
                        s0 = s0.addingProduct(x, load8(br)); s1 = s1.addingProduct(x, load8(br + 8))
                        s2 = s2.addingProduct(x, load8(br + 16)); s3 = s3.addingProduct(x, load8(br + 24))
                    }
                    let cr = c + i * ldc + j
                    storeRow(cr, s0, s1, alpha, beta)
                    storeRow(cr + 16, s2, s3, alpha, beta)
                } else {
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { acc in
                        let t = acc.baseAddress!
                        t.update(repeating: 0, count: 32)
                        for p in 0..<k {
                            let x = ar[p], br = b + p * ldb + j
                            for q in 0..<w { t[q] = t[q].addingProduct(x, br[q]) }
                        }
                        for q in 0..<w { store(c + i * ldc + j + q, t[q], alpha: alpha, beta: beta) }
                    }
                }
            }
            j += 32
        }
    }
}
