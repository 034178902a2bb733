import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// bfloat16 of x, nearest even (the rounding the dot-product path applies to activations).
private func roundedBF16(_ x: Float) -> Float {
    var u = x.bitPattern
    u &+= 0x7fff &+ ((u >> 16) & 1)
    return Float(bitPattern: u & 0xffff_0000)
}

private func bf16Bits(_ xs: [Float]) -> [UInt16] { xs.map { UInt16(roundedBF16($0).bitPattern >> 16) } }

/// The products on the bfloat16 dot product (AVX-512 BF16) against a double-precision sum of the
/// rounded activations times the weights; sizes off the kernel's 12-row tile, 32-column panel,
/// 128-row weight block and 512-element k block, an odd k, beta 0 and 1, and decoding steps'
/// 1-8 rows (the unpacked kernel's 4x4 tile and 32-element k step). Skipped where the CPU
/// has no such instruction (products there stay widened).
@Test(.enabled(if: Kernels.hasBF16Dot),
      arguments: [(13, 37, 31), (29, 300, 1027), (100, 129, 512), (1, 37, 31), (3, 70, 1027), (8, 129, 512), (7, 5, 33)])
func bf16DotProductsMatchTheRoundedActivationsProduct(m: Int, n: Int, k: Int) throws {
    var rng = KT.Random(UInt64(m * 1000 + k))
    let a = rng.floats(m * k, -2, 2), w = bf16Bits(rng.floats(n * k, -1, 1)), c0 = rng.floats(m * n)
    for beta: Float in [0, 1] {
        var c = c0
        a.withUnsafeBufferPointer { pa in w.withUnsafeBufferPointer { pw in c.withUnsafeMutableBufferPointer { pc in
            BF16Dot.linear(m: m, n: n, k: k, a: pa.baseAddress!, lda: k, w: pw.baseAddress!, beta: beta, c: pc.baseAddress!, ldc: n)
        }}}
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0, mag = 0.0
                for p in 0..<k {
                    let x = Double(roundedBF16(a[i * k + p])), y = Double(Float(bitPattern: UInt32(w[j * k + p]) << 16))
                    s += x * y; mag += abs(x * y)
                }
                let want = s + Double(beta) * Double(c0[i * n + j])
                worst = max(worst, abs(Double(c[i * n + j]) - want) / max(mag, 1))
            }
        }
        #expect(worst < 1e-6, "m \(m) n \(n) k \(k) beta \(beta): \(worst)")
    }
    // The same bytes on one thread as on all of them.
    func run() -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { pa in w.withUnsafeBufferPointer { pw in c.withUnsafeMutableBufferPointer { pc in
            BF16Dot.linear(m: m, n: n, k: k, a: pa.baseAddress!, lda: k, w: pw.baseAddress!, beta: 0, c: pc.baseAddress!, ldc: n)
        }}}
        return c
    }
    let all = run(), one = Parallel.withThreadLimit(1) { run() }
    #expect(all == one)
}

/// The kernel's rounding of activations is nearest even, ties included, as the scalar rule.
@Test(.enabled(if: Kernels.hasBF16Dot))
func bf16DotRoundsActivationsToNearestEven() {
    // 1 + 2^-8 lies halfway between two bfloat16 values: it rounds to the even one (1); 1 + 3·2^-8 rounds up.
    var xs: [Float] = [1 + 1 / 256, 1 + 3 / 256, -1 - 1 / 256, 0, -0.0, .infinity, -.infinity, 3.14159, 65504, 1e-30]
    var rng = KT.Random(5)
    xs += rng.floats(61, -100, 100)
    for k in [xs.count, 33] {
        var out = [UInt16](repeating: 0xffff, count: (k + 1) / 2 * 2)
        xs.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { po in
            BF16Dot.roundRow(px.baseAddress!, k: k, into: po.baseAddress!)
        }}
        #expect(Array(out.prefix(k)) == bf16Bits(Array(xs.prefix(k))), "k \(k)")
        if k % 2 == 1 { #expect(out[k] == 0) }
    }
}

/// A bfloat16 checkpoint computed on the dot product, prefill and decoding alike, against
/// transformers' own bfloat16 run (`scripts/gen_half_goldens.py`): logits within bfloat16's
/// tolerance, greedy ids identical where transformers' bfloat16 and float32 runs agree.
@Test(.enabled(if: Kernels.hasBF16Dot), arguments: HalfGolden.names.filter { $0.hasPrefix("bf16") })
func bf16DotModelMatchesTransformersBF16(_ name: String) throws {
    let g = try HalfGolden.load(name)
    let wide = try g.logits()
    try Kernels.withHalfProducts(.bf16Dot) {
        let logits = try g.logits()
        #expect(realPositionsMaxDiff(logits, wide, lengths: g.lengths) > 0, "\(name): the dot product was not used")
        let native = realPositionsMaxDiff(logits, try g.tensor("logits_native"), lengths: g.lengths)
        let scale = Float(try #require(g.json["logits_abs_max"] as? Double))
        print("bf16-dot parity \(name): vs transformers' bf16 run \(native) (|logits| max \(scale))")
        #expect(native <= 0.05 * scale, "\(name): logits differ from transformers' bf16 run by \(native)")
        let greedy = try #require(g.json["greedy"] as? [String: Any])
        var cfg = GenerationConfig()
        cfg.maxNewTokens = greedy["max_new_tokens"] as! Int
        cfg.eosTokenId = greedy["eos"] as? Int
        let prompts = greedy["prompts"] as! [[Int]]
        let ids = try Generator(model: g.model).generate(LlavaInputs(ids: prompts, pixels: try g.tensor("pixels")), cfg)
        if greedy["native_agrees"] as? Bool == true { #expect(ids == greedy["ids_native"] as! [[Int]], "\(name)") }
    }
}
