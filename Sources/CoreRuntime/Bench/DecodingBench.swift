import Foundation

/// `hallu bench decode`: what each decoding method of the loaded plugins costs per generated token,
/// against plain decoding in the same mode, on the `small` preset (8 prompts with an image, decoded
/// as one batch; EOS never ends a row, so every row makes the same number of tokens).
///
/// The figure is the time of the tokens after the first: `(t(n) - t(1)) / (rows x (n - 1))`, where
/// `t(n)` is the median time of a `generate` call that makes `n` tokens per row; the prompt's
/// prefill, which `t(1)` holds, is therefore left out. Every method runs in greedy search and in
/// beam search (5 beams); a mode the method does not define (it says so in `begin`) is logged and
/// skipped.
enum DecodingBench {
    struct Options {
        var warmup = 1
        var iterations = 3
        var newTokens = 24
        var beams = 5
        static let quick = Options(warmup: 0, iterations: 1, newTokens: 4, beams: 2)
    }

    static func run(decoders: [DecoderDescriptor], _ o: Options = Options(), log: (String) -> Void) throws -> [BenchResult] {
        let config = try BenchWorkload.config(.small)
        let model = LlavaModel(config, seed: 0)
        model.train(false)
        let w = BenchWorkload.prompts(batch: 8)
        log("decoding bench: small preset, \(w.ids.count) prompts, \(o.newTokens) new tokens per row, "
            + "\(Parallel.threads) threads, BLAS \(BLAS.backendName); decoders: "
            + (decoders.isEmpty ? "none loaded" : decoders.map(\.id).joined(separator: ", ")))

        /// Seconds per generated token after the first, or nil when the hook refuses the mode.
        func perToken(_ hook: DecodingHook?, beams: Int) throws -> Double? {
            var cfg = GenerationConfig()
            cfg.eosTokenId = -1
            cfg.numBeams = beams
            let gen = Generator(model: model, hooks: hook.map { [$0] } ?? [])
            func timed(_ n: Int) throws -> Double {
                cfg.maxNewTokens = n
                return try ModelBench.median(warmup: o.warmup, iterations: o.iterations) { _ = try gen.generate(w.inputs, cfg) }
            }
            do {
                let one = try timed(1), many = try timed(o.newTokens)
                return max(many - one, 0) / Double(w.ids.count * (o.newTokens - 1))
            } catch let e as HalluError where hook != nil {
                log("  \(hook!.name) at \(beams) beam\(beams == 1 ? "" : "s"): skipped (\(e.message))")
                return nil
            }
        }

        var results: [BenchResult] = []
        for (mode, beams) in [("greedy", 1), ("beam \(o.beams)", o.beams)] {
            guard let plain = try perToken(nil, beams: beams) else { continue }
            log(String(format: "  plain %@: %.3f ms per token", mode, plain * 1000))
            results.append(BenchResult(name: "decode cost: plain \(mode) (small, batch 8)", unit: "ms/token", hallu: plain * 1000))
            for d in decoders {
                guard let t = try perToken(d.make(), beams: beams) else { continue }
                log(String(format: "  %@ %@: %.3f ms per token, %.2fx plain", d.id, mode, t * 1000, t / max(plain, 1e-12)))
                // The method's time per token over plain decoding's in the same mode (1 = free).
                results.append(BenchResult(name: "decode cost: \(d.id) \(mode) / plain \(mode) (small, batch 8)", unit: "x",
                                           hallu: t / max(plain, 1e-12)))
            }
        }
        return results
    }
}
