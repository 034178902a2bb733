import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Naive double-precision reference of C = alpha·op(A)·op(B) + beta·C (row-major, with strides).
private func referenceGEMM(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                           a: [Float], lda: Int, b: [Float], ldb: Int, beta: Double, c: [Float], ldc: Int) -> [Double] {
    var out = KT.d(c)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                s += Double(av) * Double(bv)
            }
            out[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * Double(c[i * ldc + j]))
        }
    }
    return out
}

private struct GemmCase {
    let m, n, k: Int
    let pad: Int      // extra columns in every stored row (lda/ldb/ldc > minimal)
    let alpha, beta: Float
}

private func runGEMM(_ cs: GemmCase, transA: Bool, transB: Bool, seed: UInt64, builtin: Bool, threads: Int? = nil)
    -> (got: [Float], want: [Double]) {
    var rng = KT.Random(seed)
    let (m, n, k) = (cs.m, cs.n, cs.k)
    let lda = (transA ? m : k) + cs.pad, ldb = (transB ? k : n) + cs.pad, ldc = n + cs.pad
    let a = rng.floats((transA ? k : m) * lda), b = rng.floats((transB ? n : k) * ldb)
    var c = rng.floats(m * ldc)
    let want = referenceGEMM(transA: transA, transB: transB, m: m, n: n, k: k, alpha: Double(cs.alpha), a: a, lda: lda,
                             b: b, ldb: ldb, beta: Double(cs.beta), c: c, ldc: ldc)
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
        if builtin {
            GEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: cs.alpha, a: pa.baseAddress!, lda: lda,
                       b: pb.baseAddress!, ldb: ldb, beta: cs.beta, c: pc.baseAddress!, ldc: ldc, threads: threads)
        } else {
            BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: cs.alpha, a: pa.baseAddress!, lda: lda,
                       b: pb.baseAddress!, ldb: ldb, beta: cs.beta, c: pc.baseAddress!, ldc: ldc)
        }
    }}}
    return (c, want)
}

private let gemmCases: [GemmCase] = [
    GemmCase(m: 1, n: 1, k: 1, pad: 0, alpha: 1, beta: 0),
    GemmCase(m: 7, n: 13, k: 5, pad: 3, alpha: 0.5, beta: 2),
    GemmCase(m: 6, n: 16, k: 8, pad: 0, alpha: 1, beta: 1),
    GemmCase(m: 37, n: 53, k: 300, pad: 1, alpha: -1.25, beta: 0.5),   // k spans two kc blocks
    GemmCase(m: 150, n: 20, k: 9, pad: 0, alpha: 1, beta: 0),           // m spans two mc blocks
    GemmCase(m: 3, n: 2100, k: 4, pad: 2, alpha: 1, beta: 1),           // n spans two nc blocks
    GemmCase(m: 97, n: 67, k: 129, pad: 0, alpha: 2, beta: -1),         // threaded split by rows
    GemmCase(m: 5, n: 301, k: 70, pad: 0, alpha: 1, beta: 0),           // threaded split by columns
]

@Test func kernelBuiltinGEMMMatchesReferenceForAllTransposes() {
    for (ci, cs) in gemmCases.enumerated() {
        for ta in [false, true] {
            for tb in [false, true] {
                let (got, want) = runGEMM(cs, transA: ta, transB: tb, seed: UInt64(ci * 4 + (ta ? 2 : 0) + (tb ? 1 : 0)), builtin: true)
                // Error bound grows with k: |Σ| <= k, float rounding ~ k·eps.
                let err = KT.maxRel(got, want, floor: 1)
                #expect(err < 3e-6 * Double(max(8, cs.k)).squareRoot() * 4, "m\(cs.m) n\(cs.n) k\(cs.k) tA\(ta) tB\(tb): \(err)")
            }
        }
    }
}

@Test func kernelBLASMatchesReferenceForAllTransposes() {
    for (ci, cs) in gemmCases.enumerated() {
        for ta in [false, true] {
            for tb in [false, true] {
                let (got, want) = runGEMM(cs, transA: ta, transB: tb, seed: UInt64(100 + ci * 4 + (ta ? 2 : 0) + (tb ? 1 : 0)), builtin: false)
                let err = KT.maxRel(got, want, floor: 1)
                #expect(err < 3e-6 * Double(max(8, cs.k)).squareRoot() * 4, "\(BLAS.backendName) m\(cs.m) n\(cs.n) k\(cs.k) tA\(ta) tB\(tb): \(err)")
            }
        }
    }
}

@Test func kernelBuiltinGEMMAgreesWithBLASAtModelShapes() {
    // Against OpenBLAS when present (else this compares the built-in kernel with itself via BLAS).
    for (m, n, k) in [(640, 64, 64), (640, 192, 64), (257, 1000, 128), (128, 96, 640)] {
        for ta in [false, true] {
            for tb in [false, true] {
                let cs = GemmCase(m: m, n: n, k: k, pad: 0, alpha: 1, beta: 0)
                let (g1, _) = runGEMMNoRef(cs, ta, tb, builtin: true)
                let (g2, _) = runGEMMNoRef(cs, ta, tb, builtin: false)
                var maxd: Float = 0
                for i in g1.indices { maxd = max(maxd, abs(g1[i] - g2[i])) }
                #expect(maxd < 2e-4 * Float(k).squareRoot(), "\(m)x\(n)x\(k) tA\(ta) tB\(tb): \(maxd)")
            }
        }
    }
}

private func runGEMMNoRef(_ cs: GemmCase, _ ta: Bool, _ tb: Bool, builtin: Bool, threads: Int? = nil) -> ([Float], Int) {
    var rng = KT.Random(UInt64(cs.m * 31 + cs.n * 7 + cs.k))
    let (m, n, k) = (cs.m, cs.n, cs.k)
    let lda = ta ? m : k, ldb = tb ? k : n
    let a = rng.floats(m * k), b = rng.floats(k * n)
    var c = [Float](repeating: .nan, count: m * n)   // beta = 0 must not read C
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
        if builtin {
            GEMM.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: cs.alpha, a: pa.baseAddress!, lda: lda,
                       b: pb.baseAddress!, ldb: ldb, beta: cs.beta, c: pc.baseAddress!, ldc: n, threads: threads)
        } else {
            BLAS.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: cs.alpha, a: pa.baseAddress!, lda: lda,
                       b: pb.baseAddress!, ldb: ldb, beta: cs.beta, c: pc.baseAddress!, ldc: n)
        }
    }}}
    return (c, 0)
}

@Test func kernelBuiltinGEMMIsIdenticalForAnyThreadCount() {
    for (m, n, k) in [(300, 70, 300), (5, 301, 70)] {
        let cs = GemmCase(m: m, n: n, k: k, pad: 0, alpha: 1, beta: 0)
        let (one, _) = runGEMMNoRef(cs, false, true, builtin: true, threads: 1)
        let (two, _) = runGEMMNoRef(cs, false, true, builtin: true, threads: 2)
        let (again, _) = runGEMMNoRef(cs, false, true, builtin: true, threads: 2)
        #expect(one == two)
        #expect(two == again)
        #expect(!one.contains { $0.isNaN })
    }
}

@Test func kernelGEMMEdgeCases() {
    // k = 0: C = beta·C; beta = 0 clears NaN.
    var c: [Float] = [1, 2, .nan, 4]
    let a: [Float] = [1], b: [Float] = [1]
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
        GEMM.sgemm(transA: false, transB: false, m: 2, n: 2, k: 0, alpha: 1, a: pa.baseAddress!, lda: 1,
                   b: pb.baseAddress!, ldb: 2, beta: 0, c: pc.baseAddress!, ldc: 2)
    }}}
    #expect(c == [0, 0, 0, 0])
    c = [1, 2, 3, 4]
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
        BLAS.sgemm(transA: false, transB: false, m: 2, n: 2, k: 0, alpha: 1, a: pa.baseAddress!, lda: 1,
                   b: pb.baseAddress!, ldb: 2, beta: 2, c: pc.baseAddress!, ldc: 2)
    }}}
    #expect(c == [2, 4, 6, 8])
}

@Test func kernelStridedBatchedGEMM() {
    var rng = KT.Random(7)
    let (batch, m, n, k) = (5, 9, 11, 6)
    let a = rng.floats(batch * m * k), b = rng.floats(batch * n * k)
    var c = [Float](repeating: 0, count: batch * m * n)
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
        BLAS.sgemmStridedBatched(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: pa.baseAddress!, lda: k,
                                 strideA: m * k, b: pb.baseAddress!, ldb: k, strideB: n * k, beta: 0,
                                 c: pc.baseAddress!, ldc: n, strideC: m * n, batch: batch)
    }}}
    for i in 0..<batch {
        let want = referenceGEMM(transA: false, transB: true, m: m, n: n, k: k, alpha: 1,
                                 a: Array(a[(i * m * k)..<((i + 1) * m * k)]), lda: k,
                                 b: Array(b[(i * n * k)..<((i + 1) * n * k)]), ldb: k, beta: 0,
                                 c: [Float](repeating: 0, count: m * n), ldc: n)
        #expect(KT.maxRel(Array(c[(i * m * n)..<((i + 1) * m * n)]), want, floor: 1) < 1e-5)
    }
    // Pointer-list variant with a shared B (stride 0 equivalent).
    var c2 = [Float](repeating: 0, count: batch * m * n)
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c2.withUnsafeMutableBufferPointer { pc in
        let ap = (0..<batch).map { pa.baseAddress! + $0 * m * k }
        let bp = (0..<batch).map { _ in pb.baseAddress! }
        let cp = (0..<batch).map { pc.baseAddress! + $0 * m * n }
        BLAS.sgemmBatched(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: ap, lda: k, b: bp, ldb: k,
                          beta: 0, c: cp, ldc: n)
    }}}
    for i in 0..<batch {
        let want = referenceGEMM(transA: false, transB: true, m: m, n: n, k: k, alpha: 1,
                                 a: Array(a[(i * m * k)..<((i + 1) * m * k)]), lda: k, b: Array(b[0..<(n * k)]), ldb: k,
                                 beta: 0, c: [Float](repeating: 0, count: m * n), ldc: n)
        #expect(KT.maxRel(Array(c2[(i * m * n)..<((i + 1) * m * n)]), want, floor: 1) < 1e-5)
    }
}

@Test func kernelBLASReportsBackend() {
    let name = BLAS.backendName
    #expect(name == "builtin" || name.contains("("))
    if BLAS.isExternal, name.hasPrefix("openblas") {
        #expect(name.hasSuffix("(libopenblas.so.0)") || ProcessInfo.processInfo.environment["HALLU_BLAS"] != nil)
    }
}

@Test func kernelParallelCoversEveryIndexOnce() {
    for (count, minChunk) in [(0, 1), (1, 1), (7, 1), (1000, 3), (100_003, 64)] {
        var hits = [Int32](repeating: 0, count: count)
        hits.withUnsafeMutableBufferPointer { h in
            let base = h.baseAddress!
            Parallel.forEach(count: count, minChunk: minChunk) { r in
                for i in r { base[i] += 1 }
            }
        }
        #expect(hits.allSatisfy { $0 == 1 }, "count \(count)")
    }
    // Nested calls run inline and still cover everything.
    var grid = [Int32](repeating: 0, count: 64 * 50)
    grid.withUnsafeMutableBufferPointer { g in
        let base = g.baseAddress!
        Parallel.forEach(count: 64) { rows in
            for r in rows {
                Parallel.forEach(count: 50) { cols in for c in cols { base[r * 50 + c] += 1 } }
            }
        }
    }
    #expect(grid.allSatisfy { $0 == 1 })
    // The partition depends only on the sizes and the thread count.
    let chunks = Parallel.chunkCount(count: 10, minChunk: 1)
    let pieces = (0..<chunks).map { Parallel.chunk($0, of: chunks, count: 10) }
    #expect(pieces.first?.lowerBound == 0 && pieces.last?.upperBound == 10)
    #expect(Parallel.withThreadLimit(1) { Parallel.chunkCount(count: 1000) } == 1)
}

@Test func kernelParallelRunsManySmallJobs() {
    // Exercises the pool's hand-off many times (lost wake-ups would hang or miss chunks).
    var total = 0
    let counter = UnsafeMutablePointer<Int>.allocate(capacity: 2)
    defer { counter.deallocate() }
    for _ in 0..<2000 {
        counter[0] = 0; counter[1] = 0
        Parallel.run(chunks: 2) { i in counter[i] += i + 1 }
        total += counter[0] + counter[1]
    }
    #expect(total == 2000 * 3)
}
