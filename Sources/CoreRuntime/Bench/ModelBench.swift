import Foundation

/// Whole-model benchmarks (`hallu bench model`): the machine's sgemm peak; at the `small` preset,
/// training steps (SFT, DPO, and both with LoRA), greedy generation with the KV cache, and the peak
/// memory of a LoRA DPO step against a LoRA SFT step; an SFT step and generation at `tiny`; and a
/// size sweep of SFT steps on decoders of about 5M, 25M and 100M parameters. Each case is measured
/// on hallu and, in the same run with the same weights, batch and thread count, on the PyTorch
/// reference (`bench/torch_reference.py`): eager, and `torch.compile` for the SFT steps. Training
/// rows carry hallu's model FLOP utilisation (`ModelFLOPs` over the measured peak).
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
        /// Whether SFT steps are also measured against `torch.compile`.
        var compile = true
        /// Sizes of the sweep (`BenchWorkload.sweep` names).
        var sweep = BenchWorkload.sweep.map(\.name)
        /// The cases to run (`caseNames`), or nil for all; the sgemm peak always runs.
        var cases: Set<String>? = nil

        /// Whether case `name` runs.
        func wants(_ name: String) -> Bool { cases?.contains(name) ?? true }

        static let quick = Options(warmup: 1, iterations: 2, largeIterations: 1, newTokens: 8, compile: false, sweep: ["5m"])
    }

    /// What `Options.cases` may name: the `small` SFT step at batch 8 and 64, DPO, LoRA SFT and
    /// DPO (with their memory rows), greedy generation, the `tiny` preset, and the sweep's sizes.
    static let caseNames = ["sft8", "sft64", "dpo", "lora", "generate", "tiny"] + BenchWorkload.sweep.map(\.name)

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

        // The machine's limit, measured now: the larger of hallu's and PyTorch's sgemm at 2048^3.
        let peakRow = measurePeak(torch: torch, log: log)
        results.append(peakRow)
        let peakFLOPs = max(peakRow.hallu, peakRow.reference ?? 0) * 1e9

        func throughput(_ name: String, hallu: Measured, torch: TorchReference.Measurement?, flops: Double? = nil) -> BenchResult {
            let h = Double(hallu.tokens) / hallu.seconds
            let r = torch.map { Double($0.tokens) / $0.seconds }
            let mfu = flops.map { $0 / hallu.seconds / peakFLOPs }
            var line = String(format: "%@: hallu %.0f tokens/s (%.1f ms)", name, h, hallu.seconds * 1000)
            if let mfu { line += String(format: ", mfu %.1f%%", 100 * mfu) }
            if let torch, let r {
                line += String(format: ", %@ %.0f tokens/s (%.1f ms), ratio %.2f", torch.label, r, torch.seconds * 1000, h / r)
                if let flops { line += String(format: " (reference mfu %.1f%%)", 100 * flops / torch.seconds / peakFLOPs) }
                if let c = torch.compileSeconds { line += String(format: ", compiled in %.0f s", c) }
                if torch.tokens != hallu.tokens { line += " [token counts differ: \(hallu.tokens) vs \(torch.tokens)]" }
                if let tl = torch.first as? Double, let hl = hallu.first {
                    line += String(format: "; first loss %.5f vs %.5f", hl, tl)
                }
            }
            log(line)
            return BenchResult(name: name, unit: "tokens/s", hallu: h, reference: r, referenceName: torch?.name,
                               peakRssMB: hallu.peakRSSMB, mfu: mfu)
        }

        /// An SFT step on `cfg`: the eager row, and the torch.compile row when asked for.
        func sftRows(_ label: String, cfg: LlavaConfig, model: URL, batch: Int, iterations: Int) throws -> [BenchResult] {
            let w = BenchWorkload.sft(batch: batch)
            let imageRows = LlavaModel(cfg).imageTokens
            let flops = ModelFLOPs.trainingStep(cfg, w, imageTokens: imageRows, lora: false, pairs: false)
            let h = try trainSteps(config: cfg, lora: false, warmup: o.warmup, iterations: iterations,
                                   tokens: w.tokens(imageTokens: imageRows)) { m, _ in try m.loss(w.inputs) }
            let name = "sft step (\(label), batch \(batch))"
            var rows = [throughput(name, hallu: h, torch: reference("sft", w, iterations: iterations, model: model), flops: flops)]
            if o.compile, torch != nil {
                let c = reference("sft", w, iterations: iterations, extra: ["--compile"], model: model)
                if c == nil { log("\(name): torch.compile reference unavailable (the reason is above); row left without a reference") }
                rows.append(throughput(name + " vs torch.compile", hallu: h, torch: c, flops: flops))
            }
            return rows
        }

        // SFT, full fine-tuning.
        for (batch, iters) in [(8, o.iterations), (64, o.largeIterations)] where o.wants("sft\(batch)") {
            results += try sftRows("small", cfg: config, model: modelDir, batch: batch, iterations: iters)
        }

        // DPO, full fine-tuning with a frozen reference copy.
        let pairs = BenchWorkload.pairs(batch: 8)
        let pairTokens = pairs.tokens(imageTokens: imageTokens)
        let sft8 = BenchWorkload.sft(batch: 8)
        if o.wants("dpo") {
            let dpo = try trainSteps(config: config, lora: false, reference: true, warmup: o.warmup, iterations: o.iterations,
                                     tokens: pairTokens) { m, ref in try dpoLoss(m, ref!, pairs, beta: o.beta) }
            results.append(throughput("dpo step (small, batch 8 pairs, policy + reference)", hallu: dpo,
                                      torch: reference("dpo", pairs, iterations: o.iterations),
                                      flops: ModelFLOPs.trainingStep(config, pairs, imageTokens: imageTokens, lora: false, pairs: true)))
        }

        // LoRA SFT and DPO: throughput and the memory a DPO step costs over an SFT step.
        if o.wants("lora") {
            let loraSFT = try trainSteps(config: config, lora: true, warmup: o.warmup, iterations: o.iterations,
                                         tokens: sft8.tokens(imageTokens: imageTokens)) { m, _ in try m.loss(sft8.inputs) }
            let torchLoraSFT = reference("lora_sft", sft8, iterations: o.iterations)
            results.append(throughput("lora sft step (small, batch 8)", hallu: loraSFT, torch: torchLoraSFT,
                                      flops: ModelFLOPs.trainingStep(config, sft8, imageTokens: imageTokens, lora: true, pairs: false)))
            let loraDPO = try trainSteps(config: config, lora: true, reference: true, warmup: o.warmup, iterations: o.iterations,
                                         tokens: pairTokens) { m, ref in try dpoLoss(m, ref!, pairs, beta: o.beta) }
            let torchLoraDPO = reference("lora_dpo", pairs, iterations: o.iterations)
            results.append(throughput("lora dpo step (small, batch 8 pairs)", hallu: loraDPO, torch: torchLoraDPO,
                                      flops: ModelFLOPs.trainingStep(config, pairs, imageTokens: imageTokens, lora: true, pairs: true)))
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
        }

        // Greedy generation with the KV cache.
        for batch in [8, 1] where o.wants("generate") {
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
        if o.wants("tiny") {
            let tiny = try BenchWorkload.config(.tiny)
            let tinyDir = dir.appendingPathComponent("model-tiny")
            try LlavaModel(tiny, seed: 0).save(to: tinyDir, tokenizerJSON: nil, preprocessor: nil)
            let tinyImageTokens = LlavaModel(tiny).imageTokens
            let tinySFT = try trainSteps(config: tiny, lora: false, warmup: o.warmup, iterations: o.iterations,
                                         tokens: sft8.tokens(imageTokens: tinyImageTokens)) { m, _ in try m.loss(sft8.inputs) }
            results.append(throughput("sft step (tiny, batch 8)", hallu: tinySFT,
                                      torch: reference("sft", sft8, iterations: o.iterations, model: tinyDir),
                                      flops: ModelFLOPs.trainingStep(tiny, sft8, imageTokens: tinyImageTokens, lora: false, pairs: false)))
            let prompts = BenchWorkload.prompts(batch: 8)
            let tinyGen = try generate(config: tiny, prompts, newTokens: o.newTokens, warmup: o.warmup, iterations: o.iterations)
            let tinyGenRef = reference("generate", prompts, iterations: o.iterations, extra: ["--new-tokens", "\(o.newTokens)"], model: tinyDir)
            results.append(throughput("greedy generation with kv cache (tiny, batch 8, \(o.newTokens) new tokens)", hallu: tinyGen, torch: tinyGenRef))
            if let ids = tinyGenRef?.first as? [Int], let mine = tinyGen.ids {
                log("tiny: greedy ids of sample 0 \(ids == mine ? "match" : "DIFFER from") the PyTorch reference")
            }
        }

        // The size sweep: SFT steps at batch 8 on decoders of about 5M, 25M and 100M parameters.
        for size in BenchWorkload.sweep where o.sweep.contains(size.name) && o.wants(size.name) {
            let cfg = try size.config()
            let folder = dir.appendingPathComponent("model-\(size.name)")
            try LlavaModel(cfg, seed: 0).save(to: folder, tokenizerJSON: nil, preprocessor: nil)
            let params = LlavaModel(cfg).parameterCount
            log(String(format: "sweep %@: %.1fM parameters (decoder %d x %d layers, %d heads; vision %d x %d)", size.name,
                       Double(params) / 1e6, cfg.text.hiddenSize, cfg.text.numHiddenLayers, cfg.text.numAttentionHeads,
                       cfg.vision.hiddenSize, cfg.vision.numHiddenLayers))
            let label = String(format: "%@, %.1fM parameters", size.name, Double(params) / 1e6)
            results += try sftRows(label, cfg: cfg, model: folder, batch: 8, iterations: size.iterations(o))
            try? FileManager.default.removeItem(at: folder)
        }
        return results
    }

    /// sgemm at 2048x2048x2048 through hallu (`BLAS.sgemm`, every thread) and through PyTorch
    /// (`torch.mm`), in GFLOP/s: the peak that model FLOP utilisation is measured against.
    static func measurePeak(torch: TorchReference?, log: (String) -> Void) -> BenchResult {
        let n = 2048
        let a = Tensor.full([n, n], 0.5), b = Tensor.full([n, n], 0.25), c = Tensor(uninitializedShape: [n, n])
        let seconds = (try? median(warmup: 1, iterations: 5) {
            BLAS.sgemm(transA: false, transB: false, m: n, n: n, k: n, alpha: 1, a: a.data, lda: n, b: b.data, ldb: n,
                       beta: 0, c: c.data, ldc: n)
        }) ?? .infinity
        let flops = 2 * Double(n * n * n)
        let h = flops / seconds / 1e9
        var ref: TorchReference.Measurement?
        if let torch {
            do { ref = try torch.measure(case: "peak", model: URL(fileURLWithPath: "/"), batch: URL(fileURLWithPath: "/"),
                                         warmup: 1, iterations: 5) } catch { log("model bench: \(error)") }
        }
        let r = ref.map { flops / $0.seconds / 1e9 }
        log(String(format: "sgemm peak 2048^3, %d threads: hallu (%@) %.1f GFLOP/s", Parallel.threads, BLAS.backendName, h)
            + (r.map { String(format: ", torch.mm %.1f GFLOP/s; model FLOP utilisation is against %.1f", $0, max(h, $0)) } ?? ""))
        return BenchResult(name: "sgemm peak (2048x2048x2048, \(Parallel.threads) threads)", unit: "GFLOP/s", hallu: h,
                           reference: r, referenceName: ref?.name)
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
        BenchResult.procStatusMB("VmRSS")
    }
}
