import Foundation

/// `hallu bench decode`: what each decoding method of the loaded plugins costs per generated token,
/// against plain decoding in the same mode, on the `small` preset (8 prompts with an image, decoded
/// as one batch; EOS never ends a row, so every row makes the same number of tokens).
///
/// The time per token is that of the tokens after the first: `(t(n) - t(1)) / (rows x (n - 1))`,
/// where `t(n)` is the time of a `generate` call that makes `n` tokens per row; the prompt's
/// prefill, which `t(1)` holds, is therefore left out. A step of the `small` preset takes tens of
/// microseconds, so the machine's drift between two measurements minutes apart is as large as the
/// effects measured: each round therefore times plain decoding and the method back to back, and
/// the ratio reported is the median of the rounds' ratios. Every method runs in greedy search and
/// in beam search (5 beams); a mode the method does not define (it says so in `begin`) is logged
/// and skipped.
enum DecodingBench {
    struct Options {
        var warmup = 1
        var iterations = 15
        var newTokens = 48
        var beams = 5
        static let quick = Options(warmup: 0, iterations: 1, newTokens: 4, beams: 2)
    }

    static func run(decoders: [DecoderDescriptor], _ o: Options = Options(), log: (String) -> Void) throws -> [BenchResult] {
        let config = try BenchWorkload.config(.small)
        let model = LlavaModel(config, seed: 0)
        model.train(false)
        let w = BenchWorkload.prompts(batch: 8)
        log("decoding bench: small preset, \(w.ids.count) prompts, \(o.newTokens) new tokens per row, "
            + "\(o.iterations) rounds, \(Parallel.threads) threads, BLAS \(BLAS.backendName); decoders: "
            + (decoders.isEmpty ? "none loaded" : decoders.map(\.id).joined(separator: ", ")))

        /// One round's seconds per generated token after the first.
        func perToken(_ gen: Generator, _ cfg: GenerationConfig) throws -> Double {
            func timed(_ n: Int) throws -> Double {
                var c = cfg
                c.maxNewTokens = n
                let t0 = KernelBench.now()
                _ = try gen.generate(w.inputs, c)
                return KernelBench.now() - t0
            }
            let one = try timed(1), many = try timed(o.newTokens)
            return max(many - one, 0) / Double(w.ids.count * (o.newTokens - 1))
        }
        func median(_ xs: [Double]) -> Double {
            let v = xs.sorted(), n = v.count
            return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2])
        }

        var results: [BenchResult] = []
        for (mode, beams) in [("greedy", 1), ("beam \(o.beams)", o.beams)] {
            var cfg = GenerationConfig()
            cfg.eosTokenId = -1
            cfg.numBeams = beams
            let plainGen = Generator(model: model)
            for _ in 0..<o.warmup { _ = try perToken(plainGen, cfg) }
            let plain = median(try (0..<max(1, o.iterations)).map { _ in try perToken(plainGen, cfg) })
            log(String(format: "  plain %@: %.3f ms per token", mode, plain * 1000))
            results.append(BenchResult(name: "decode cost: plain \(mode) (small, batch 8)", unit: "ms/token", hallu: plain * 1000))
            for d in decoders {
                let hook = try d.make()
                let gen = Generator(model: model, hooks: [hook])
                do {
                    for _ in 0..<o.warmup { _ = try perToken(gen, cfg) }
                    var ratios: [Double] = [], times: [Double] = []
                    for _ in 0..<max(1, o.iterations) {
                        let base = try perToken(plainGen, cfg), t = try perToken(gen, cfg)
                        times.append(t)
                        ratios.append(t / max(base, 1e-12))
                    }
                    let ratio = median(ratios)
                    log(String(format: "  %@ %@: %.3f ms per token, %.2fx plain", d.id, mode, median(times) * 1000, ratio))
                    // The method's time per token over plain decoding's in the same mode (1 = free).
                    results.append(BenchResult(name: "decode cost: \(d.id) \(mode) / plain \(mode) (small, batch 8)", unit: "x", hallu: ratio))
                } catch let e as HalluError {
                    log("  \(hook.name) at \(beams) beam\(beams == 1 ? "" : "s"): skipped (\(e.message))")
                }
            }
        }
        return results
    }
}
