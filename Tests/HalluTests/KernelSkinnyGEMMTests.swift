import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

@Test func skinnyProductsMatchReference() throws {
    // Few-row products (decoding) skip packing; every transpose of B, tails in n and k, alpha/beta.
    var rng = KT.Random(77)
    for (m, n, k) in [(1, 37, 13), (3, 64, 32), (8, 130, 40), (5, 7, 3)] {
        for transB in [false, true] {
            for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (2, -0.5)] {
                let a = rng.floats(m * k), b = rng.floats(n * k), c0 = rng.floats(m * n)
                var c = c0
                let ldb = transB ? k : n
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(transA: false, transB: transB, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: k,
                               b: pb.baseAddress!, ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: n)
                }}}
                var worst = 0.0
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0
                        for p in 0..<k { s += Double(a[i * k + p]) * Double(transB ? b[j * k + p] : b[p * n + j]) }
                        let ref = Double(alpha) * s + Double(beta) * Double(c0[i * n + j])
                        worst = max(worst, abs(ref - Double(c[i * n + j])))
                    }
                }
                #expect(worst < 1e-4, "m \(m) n \(n) k \(k) transB \(transB) alpha \(alpha) beta \(beta): \(worst)")
            }
        }
    }
}

@Test func skinnyProductsAreIdenticalOnAnyThreadCount() {
    var rng = KT.Random(78)
    let (m, n, k) = (8, 512, 128)
    let a = rng.floats(m * k), b = rng.floats(n * k)
    func run(_ t: Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            GEMM.skinny(transB: true, m: m, n: n, k: k, alpha: 1, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: k,
                        beta: 0, c: pc.baseAddress!, ldc: n, threads: t)
        }}}
        return c
    }
    #expect(run(1) == run(2))
}
