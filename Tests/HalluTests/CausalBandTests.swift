import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// The built-in kernel's causal bands (`GEMM.CausalBand`) against the full product, on sizes that
/// cross its k block (256) and row block (144), with the band's offset behind, at and past the diagonal.
@Test(arguments: [0, 5, -4])
func causalBandProductsEqualTheFullProductInTheBand(offset: Int) throws {
    var rng = KT.Random(7)
    let (m, d) = (300, 19)
    func full(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: [Float], lda: Int, b: [Float], ldb: Int,
              beta: Float, c: [Float]) -> [Float] {
        var out = c
        GEMM.serial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                    beta: beta, c: &out, ldc: n)
        return out
    }
    func banded(_ band: GEMM.CausalBand, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: [Float], lda: Int,
                b: [Float], ldb: Int, beta: Float, c: [Float]) -> [Float] {
        var out = c
        GEMM.serial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                    beta: beta, c: &out, ldc: n, band: band)
        return out
    }
    // Scores q kᵀ: every element in the band is the full product's.
    let q = rng.floats(m * d), k = rng.floats(m * d)
    let s0 = rng.floats(m * m)
    let fullS = full(transA: false, transB: true, m: m, n: m, k: d, a: q, lda: d, b: k, ldb: d, beta: 0, c: s0)
    let bandS = banded(.columns(offset: offset), transA: false, transB: true, m: m, n: m, k: d, a: q, lda: d, b: k,
                       ldb: d, beta: 0, c: s0)
    for i in 0..<m { for j in 0..<m where j <= i + offset { #expect(bandS[i * m + j] == fullS[i * m + j]) } }

    // P with zeros past each row's band, as softmax leaves it.
    var p = rng.floats(m * m, 0, 1)
    for i in 0..<m { for j in 0..<m where j > i + offset { p[i * m + j] = 0 } }
    let v = rng.floats(m * d), c0 = rng.floats(m * d)
    for beta: Float in [0, 1] {
        // P v: row i's k loop stops at its band.
        #expect(banded(.kUpTo(offset: offset), transA: false, transB: false, m: m, n: d, k: m, a: p, lda: m, b: v,
                       ldb: d, beta: beta, c: c0)
                == full(transA: false, transB: false, m: m, n: d, k: m, a: p, lda: m, b: v, ldb: d, beta: beta, c: c0))
        // Pᵀ dO: key j's k loop starts at the first query that sees it; rows no query sees get beta·C.
        #expect(banded(.kFrom(offset: offset), transA: true, transB: false, m: m, n: d, k: m, a: p, lda: m, b: v,
                       ldb: d, beta: beta, c: c0)
                == full(transA: true, transB: false, m: m, n: d, k: m, a: p, lda: m, b: v, ldb: d, beta: beta, c: c0))
    }
}
