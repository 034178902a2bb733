import Foundation

/// Whole-model benchmarks at the `small` preset, plus an SFT step and generation at `tiny` (`hallu bench model`): training steps (SFT, DPO,
/// and both with LoRA), greedy generation with the KV cache, and the peak memory of a LoRA DPO step
/// against a LoRA SFT step. Each case is measured on hallu and, in the same run with the same
/// weights, batch and thread count, on the PyTorch reference (`bench/torch_reference.py`).
enum ModelBench {
    /// Iteration counts. Times are the median of `iterations` runs after `warmup` untimed ones.
    struct Options {
        var warmup = 2
        var iterations = 7
        /// For the batch-64 step, which takes several times longer.
        var largeIterations = 3
        var newTokens = 32
        var beta: Float = 0.1
        /// Whether to run the PyTorch reference at all.
        var useReference = true

        static let quick = Options(warmup: 1, iterations: 2, largeIterations: 1, newTokens: 8)
    }

    /// LoRA as the run configuration's defaults apply it: rank 8, alpha 16, every decoder projection.
    static let loraTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    static func run(_ o: Options, log: (String) -> Void) throws -> [BenchResult] {
        let config = try BenchWorkload.config()
        let threads = Parallel.threads
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hallu-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let modelDir = dir.appendingPathComponent("model")
        try LlavaModel(config, seed: 0).save(to: modelDir, tokenizerJSON: nil, preprocessor: nil)
        let (torch, why) = o.useReference ? TorchReference.locate(threads: threads) : (nil, "reference disabled")
        if let why { log("model bench: \(why); reporting hallu alone (reference null)") }
        log("model bench: small preset (\(LlavaModel(config).parameterCount) parameters, vocabulary \(BenchWorkload.vocab)), "
            + "\(threads) threads, BLAS \(BLAS.backendName)")
        let imageTokens = LlavaModel(config).imageTokens
        var results: [BenchResult] = []

        func reference(_ name: String, _ w: BenchWorkload, iterations: Int, extra: [String] = [],
                       model: URL = modelDir) -> TorchReference.Measurement? {
            guard let torch else { return nil }
            do {
                let file = dir.appendingPathComponent("\(name)-\(w.ids.count).json")
                try w.json().write(to: file)
                return try torch.measure(case: name, model: model, batch: file, warmup: o.warmup,
                                         iterations: iterations, extra: extra)
            } catch {
                log("model bench: \(error)")
                return nil
            }
        }

        func throughput(_ name: String, hallu: Measured, torch: TorchReference.Measurement?) -> BenchResult {
            let h = Double(hallu.tokens) / hallu.seconds
            let r = torch.map { Double($0.tokens) / $0.seconds }
            var line = String(format: "%@: hallu %.0f tokens/s (%.1f ms)", name, h, hallu.seconds * 1000)
            if let torch, let r {
                line += String(format: ", pytorch %.0f tokens/s (%.1f ms), ratio %.2f", r, torch.seconds * 1000, h / r)
                if torch.tokens != hallu.tokens { line += " [token counts differ: \(hallu.tokens) vs \(torch.tokens)]" }
                if let tl = torch.first as? Double, let hl = hallu.first {
                    line += String(format: "; first loss %.5f vs %.5f", hl, tl)
                }
            }
            log(line)
            return BenchResult(name: name, unit: "tokens/s", hallu: h, reference: r, referenceName: torch?.name,
                               peakRssMB: hallu.peakRSSMB)
        }

        // SFT, full fine-tuning.
        for (batch, iters) in [(8, o.iterations), (64, o.largeIterations)] {
            let w = BenchWorkload.sft(batch: batch)
            let h = try trainSteps(config: config, lora: false, warmup: o.warmup, iterations: iters, tokens: w.tokens(imageTokens: imageTokens)) { m, _ in
                try m.loss(w.inputs)
            }
            results.append(throughput("sft step (small, batch \(batch))", hallu: h, torch: reference("sft", w, iterations: iters)))
        }

        // DPO, full fine-tuning with a frozen reference copy.
        let pairs = BenchWorkload.pairs(batch: 8)
        let pairTokens = pairs.tokens(imageTokens: imageTokens)
        let dpo = try trainSteps(config: config, lora: false, reference: true, warmup: o.warmup, iterations: o.iterations,
                                 tokens: pairTokens) { m, ref in try dpoLoss(m, ref!, pairs, beta: o.beta) }
        results.append(throughput("dpo step (small, batch 8 pairs, policy + reference)", hallu: dpo,
                                  torch: reference("dpo", pairs, iterations: o.iterations)))

        // LoRA SFT and DPO: throughput and the memory a DPO step costs over an SFT step.
        let sft8 = BenchWorkload.sft(batch: 8)
        let loraSFT = try trainSteps(config: config, lora: true, warmup: o.warmup, iterations: o.iterations,
                                     tokens: sft8.tokens(imageTokens: imageTokens)) { m, _ in try m.loss(sft8.inputs) }
        let torchLoraSFT = reference("lora_sft", sft8, iterations: o.iterations)
        results.append(throughput("lora sft step (small, batch 8)", hallu: loraSFT, torch: torchLoraSFT))
        let loraDPO = try trainSteps(config: config, lora: true, reference: true, warmup: o.warmup, iterations: o.iterations,
                                     tokens: pairTokens) { m, ref in try dpoLoss(m, ref!, pairs, beta: o.beta) }
        let torchLoraDPO = reference("lora_dpo", pairs, iterations: o.iterations)
        results.append(throughput("lora dpo step (small, batch 8 pairs)", hallu: loraDPO, torch: torchLoraDPO))
        log(String(format: "peak rss: lora sft %.1f MB (%.1f MB before the steps), lora dpo %.1f MB (%.1f MB before)",
                   loraSFT.peakRSSMB, loraSFT.baseRSSMB, loraDPO.peakRSSMB, loraDPO.baseRSSMB))
        log(String(format: "peak tensor memory: lora sft %.1f MB (%.1f MB before the steps), lora dpo %.1f MB (%.1f MB before)",
                   loraSFT.tensorPeakMB, loraSFT.tensorBaseMB, loraDPO.tensorPeakMB, loraDPO.tensorBaseMB))
        let tRatio = torchLoraSFT.flatMap { s in torchLoraDPO.map { $0.peakRSSMB / max(s.peakRSSMB, 1e-9) } }
        let hRatio = loraDPO.peakRSSMB / max(loraSFT.peakRSSMB, 1e-9)
        results.append(BenchResult(name: "peak rss lora dpo step (batch 8 pairs)", unit: "MB", hallu: loraDPO.peakRSSMB,
                                   reference: torchLoraDPO?.peakRSSMB, referenceName: torchLoraDPO?.name,
                                   ratio: torchLoraDPO.map { $0.peakRSSMB / max(loraDPO.peakRSSMB, 1e-9) },
                                   peakRssMB: loraDPO.peakRSSMB))
        results.append(BenchResult(name: "peak rss lora dpo step / lora sft step (batch 8)", unit: "x", hallu: hRatio,
                                   reference: tRatio, referenceName: torchLoraDPO?.name,
                                   ratio: tRatio.map { $0 / hRatio }, peakRssMB: loraDPO.peakRSSMB))

        // Greedy generation with the KV cache.
        for batch in [8, 1] {
            let w = BenchWorkload.prompts(batch: batch)
            let h = try generate(config: config, w, newTokens: o.newTokens, warmup: o.warmup, iterations: o.iterations)
            let t = reference("generate", w, iterations: o.iterations, extra: ["--new-tokens", "\(o.newTokens)"])
            let name = "greedy generation with kv cache (small, batch \(batch), \(o.newTokens) new tokens)"
            results.append(throughput(name, hallu: h, torch: t))
            if let ids = t?.first as? [Int], let mine = h.ids {
                log("greedy ids of sample 0 \(ids == mine ? "match" : "DIFFER from") the PyTorch reference")
            }
        }

        // The tiny preset (the tests' model): an SFT step and greedy generation at batch 8.
        let tiny = try BenchWorkload.config(.tiny)
        let tinyDir = dir.appendingPathComponent("model-tiny")
        try LlavaModel(tiny, seed: 0).save(to: tinyDir, tokenizerJSON: nil, preprocessor: nil)
        let tinyImageTokens = LlavaModel(tiny).imageTokens
        let tinySFT = try trainSteps(config: tiny, lora: false, warmup: o.warmup, iterations: o.iterations,
                                     tokens: sft8.tokens(imageTokens: tinyImageTokens)) { m, _ in try m.loss(sft8.inputs) }
        results.append(throughput("sft step (tiny, batch 8)", hallu: tinySFT,
                                  torch: reference("sft", sft8, iterations: o.iterations, model: tinyDir)))
        let prompts = BenchWorkload.prompts(batch: 8)
        let tinyGen = try generate(config: tiny, prompts, newTokens: o.newTokens, warmup: o.warmup, iterations: o.iterations)
        let tinyGenRef = reference("generate", prompts, iterations: o.iterations, extra: ["--new-tokens", "\(o.newTokens)"], model: tinyDir)
        results.append(throughput("greedy generation with kv cache (tiny, batch 8, \(o.newTokens) new tokens)", hallu: tinyGen, torch: tinyGenRef))
        if let ids = tinyGenRef?.first as? [Int], let mine = tinyGen.ids {
            log("tiny: greedy ids of sample 0 \(ids == mine ? "match" : "DIFFER from") the PyTorch reference")
        }
        return results
    }

    /// A timed hallu measurement.
    struct Measured {
        var seconds: Double
        var tokens: Int
        var peakRSSMB: Double
        var baseRSSMB: Double
        /// Peak bytes held by tensors during the steps, and held before them (the model, the
        /// optimiser's state), in MB.
        var tensorPeakMB = 0.0
        var tensorBaseMB = 0.0
        var first: Double?
        var ids: [Int]?
    }

    /// The DPO loss of `TrainContext` and `DPO` on a prebuilt pair batch: image features once per
    /// pair, the policy on 2B sequences, the reference without a tape.
    static func dpoLoss(_ model: LlavaModel, _ ref: ReferencePolicy, _ w: BenchWorkload, beta: Float) throws -> Tensor {
        let b = w.pixels.shape[0]
        let f = try model.imageFeatures(w.pixels)
        let feats = try Tensor.concat([f, f], axis: 0)
        let inputs = LlavaInputs(ids: w.ids, pixels: try w.pixels.repeated(2), labels: w.labels)
        let refLP = try ref.logProbs(inputs, policyFeatures: feats)
        let policy = try model.sequenceLogProbs(inputs, imageFeatures: feats)
        let lp = DPO.LogProbs(policyChosen: try policy.slice(axis: 0, 0..<b), policyRejected: try policy.slice(axis: 0, b..<(2 * b)),
                              refChosen: Array(refLP[0..<b]), refRejected: Array(refLP[b..<(2 * b)]))
        return try DPO.loss(lp, beta: beta).loss
    }

    /// Builds a model (LoRA as the run defaults when asked) and its reference policy (a frozen copy
    /// without LoRA, made once as a training run does), then times optimiser steps on `loss`: zero
    /// grads, forward, backward, clip at 1, AdamW.
    static func trainSteps(config: LlavaConfig, lora: Bool, reference: Bool = false, warmup: Int, iterations: Int, tokens: Int,
                           _ loss: (LlavaModel, ReferencePolicy?) throws -> Tensor) throws -> Measured {
        let model = LlavaModel(config, seed: 0)
        if lora {
            model.applyLoRA(targets: loraTargets, rank: 8, alpha: 16, dropout: 0, scope: "model.language_model", seed: 17)
        }
        let params = model.trainableParameters().map(\.1)
        let opt = try AdamW(groups: [ParamGroup(name: "default", params: params, lr: 1e-4, weightDecay: 0.01)])
        let ref = reference ? try ReferencePolicy(policy: model) : nil
        let update = TrainingStep(optimizer: opt, parameters: params, clip: 1)
        var first: Double?
        func step() throws {
            try update.run { _ in
                let l = try loss(model, ref)
                if first == nil { first = Double(l.item) }
                return l
            }
        }
        let base = PeakMemory.reset()
        let tensorBase = PeakMemory.megabytes(TensorMemory.liveBytes)
        let seconds = try median(warmup: warmup, iterations: iterations, step)
        return Measured(seconds: seconds, tokens: tokens, peakRSSMB: BenchResult.currentPeakRSSMB(), baseRSSMB: base,
                        tensorPeakMB: PeakMemory.megabytes(TensorMemory.peakBytes), tensorBaseMB: tensorBase, first: first)
    }

    static func generate(config: LlavaConfig, _ w: BenchWorkload, newTokens: Int, warmup: Int, iterations: Int) throws -> Measured {
        let model = LlavaModel(config, seed: 0)
        model.train(false)
        var cfg = GenerationConfig()
        cfg.maxNewTokens = newTokens
        cfg.eosTokenId = -1
        let gen = Generator(model: model)
        var ids: [Int]?
        let base = PeakMemory.reset()
        let seconds = try median(warmup: warmup, iterations: iterations) {
            let out = try gen.generate(w.inputs, cfg)
            if ids == nil { ids = out[0] }
        }
        return Measured(seconds: seconds, tokens: w.ids.count * newTokens, peakRSSMB: BenchResult.currentPeakRSSMB(),
                        baseRSSMB: base, first: nil, ids: ids)
    }

    /// Median seconds of `iterations` calls after `warmup` untimed ones.
    static func median(warmup: Int, iterations: Int, _ body: () throws -> Void) throws -> Double {
        for _ in 0..<warmup { try body() }
        var times: [Double] = []
        for _ in 0..<max(1, iterations) {
            let t0 = KernelBench.now()
            try body()
            times.append(KernelBench.now() - t0)
        }
        times.sort()
        let n = times.count
        return n % 2 == 1 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2])
    }
}

/// The process's peak resident set size, made resettable so that cases can be compared.
enum PeakMemory {
    /// Returns freed memory to the system and restarts the peak (VmHWM) at the current RSS;
    /// returns that RSS in MB.
    @discardableResult
    static func reset() -> Double {
        TensorMemory.releaseFreeMemory()
        TensorMemory.resetPeak()
        // Writing 5 to clear_refs resets the peak RSS counter (Linux 4.0 and later).
        if let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
            h.write(Data("5".utf8))
            try? h.close()
        }
        return currentRSSMB()
    }

    static func megabytes(_ bytes: Int) -> Double { Double(bytes) / 1_048_576 }

    /// The current resident set size (VmRSS) in MB; 0 where unavailable.
    static func currentRSSMB() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return (line.split(separator: " ").compactMap { Double($0) }.first ?? 0) / 1024
        }
        return 0
    }
}
