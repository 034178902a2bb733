import Foundation

/// Averages of the metrics logged during one optimiser step (each micro-batch counted once).
struct MetricAccumulator {
    private var sums: [String: Double] = [:]
    private var counts: [String: Int] = [:]
    mutating func add(_ m: [String: Double]) { for (k, v) in m { sums[k, default: 0] += v; counts[k, default: 0] += 1 } }
    var averages: [String: Double] { sums.reduce(into: [:]) { $0[$1.key] = $1.value / Double(counts[$1.key]!) } }
}

/// Everything needed to continue a run exactly: where each data stream is, the step, the RNG.
public struct TrainerState: Codable, Equatable {
    public var step = 0
    public var streams: [String: SampleStream] = [:]
    public var rng = SeededRNG(seed: 0)
    public var lossHistory: [Double] = []
}

/// The training loop over one or more methods: micro-batches, gradient accumulation, clipping, the
/// schedule, AdamW, metrics, NaN checks, atomic checkpoints and exact resume.
public final class Trainer {
    public let context: TrainContext
    public let methods: [(method: Method, weight: Double)]
    public let optimizer: Optimizer
    public let totalSteps: Int
    public var state: TrainerState
    let parameters: [(String, Tensor)]
    let checkpoints: CheckpointStore
    let metricsFile: URL
    /// Called after every optimiser step with the step and its averaged metrics.
    public var onStep: ((Int, [String: Double]) -> Void)?

    public init(context: TrainContext, methods: [(method: Method, weight: Double)], totalSteps: Int) throws {
        self.context = context
        self.methods = methods
        self.totalSteps = totalSteps
        let cfg = context.config
        let extra = methods.flatMap { $0.method.extraParameters() }
        parameters = context.model.trainableParameters() + extra.filter { $0.1.requiresGrad }
        guard !parameters.isEmpty else { throw HalluError("nothing to train: every parameter is frozen (check freeze_* and lora settings)") }
        // Parameter groups: the projector may have its own learning rate, as LLaVA's mm_projector_lr.
        let proj = parameters.filter { $0.0.contains("multi_modal_projector") }.map(\.1)
        let rest = parameters.filter { !$0.0.contains("multi_modal_projector") }.map(\.1)
        var groups = [ParamGroup(name: "default", params: rest, lr: Float(cfg.lr), weightDecay: Float(cfg.weightDecay))]
        if !proj.isEmpty {
            groups.append(ParamGroup(name: "projector", params: proj, lr: Float(cfg.projectorLr ?? cfg.lr), weightDecay: Float(cfg.weightDecay)))
        }
        optimizer = try AdamW(groups: groups)
        state = TrainerState(rng: SeededRNG(seed: cfg.seed ^ 0x5EED))
        checkpoints = CheckpointStore(dir: context.runDir.appendingPathComponent("checkpoint"), keepLast: cfg.keepLast)
        metricsFile = context.runDir.appendingPathComponent("metrics.jsonl")
    }

    /// The data kinds the methods need, in a fixed order.
    var kinds: [DataKind] {
        var seen: [DataKind] = []
        for m in methods { for k in m.method.dataKinds where !seen.contains(k) { seen.append(k) } }
        return seen
    }

    /// Warm-up steps from the config (explicit steps win over the ratio).
    var warmupSteps: Int { context.config.warmupSteps ?? Int((context.config.warmupRatio * Double(totalSteps)).rounded(.up)) }

    func lrFactor(_ step: Int) -> Float {
        let schedule: LRSchedule
        switch context.config.schedule {
        case "constant": schedule = .constant
        case "linear": schedule = .linear
        default: schedule = .cosine(minRatio: Float(context.config.minLrRatio))
        }
        return schedule.factor(step: step, totalSteps: totalSteps, warmupSteps: warmupSteps)
    }

    /// Draws the next micro-batch from each stream the methods need, and collates the kinds that
    /// declare a collation.
    func nextBatch() throws -> Batch {
        var batch = Batch()
        let data = context.data, n = context.config.batchSize
        for kind in kinds {
            let key = kind.rawValue
            let grouped = context.config.groupByLength
            if state.streams[key] == nil {
                state.streams[key] = SampleStream(count: data.count(kind), seed: context.config.seed &+ UInt64(key.hashValueStable),
                                                  groupBatch: grouped ? n : nil, lengths: grouped ? data.lengths(kind) : nil)
            } else if grouped, state.streams[key]!.lengths == nil {
                state.streams[key]!.lengths = data.lengths(kind)   // a resumed stream
            }
            let idx = state.streams[key]!.next(n)
            guard let all = data.list(kind) else { continue }
            let selected = all.selecting(idx)
            batch.samples.set(kind, selected)
            if let collate = context.catalog.kind(kind)?.collate { batch.collated[kind] = try collate(selected, context) }
        }
        return batch
    }

    /// Restores the newest checkpoint if there is one; returns its step.
    @discardableResult
    public func resumeIfPossible() throws -> Int? {
        guard let latest = checkpoints.latest() else {
            // Killed before the first checkpoint: the run starts over, and so does its log.
            try MetricsLog.cut(metricsFile, throughStep: 0)
            return nil
        }
        let saved = try checkpoints.load(latest)
        try checkResumedState(saved.state, from: latest)
        let all = Dictionary(uniqueKeysWithValues: context.model.namedParameters() + methods.flatMap { $0.method.extraParameters() })
        for (name, t) in saved.weights {
            guard let p = all[name] else { throw HalluError.file(latest.path, "checkpoint holds \"\(name)\", which this model does not have") }
            try p.assign(t)
        }
        try optimizer.loadState(saved.optimizer)
        state = saved.state
        context.step = state.step
        // Steps logged after the checkpoint are trained again: their lines (and a line cut short by
        // the kill) go, so the log reads as if the run had never stopped.
        try MetricsLog.cut(metricsFile, throughStep: state.step)
        context.log("resumed from \(latest.lastPathComponent) at step \(state.step)")
        return state.step
    }

    /// Saves weights that train (and method parameters), optimiser state and trainer state atomically.
    public func saveCheckpoint() throws {
        var weights: [String: Tensor] = [:]
        for (n, t) in parameters { weights[n] = t }
        for (n, t) in methods.flatMap({ $0.method.extraParameters() }) { weights[n] = t }
        try checkpoints.save(step: state.step, weights: weights, optimizer: optimizer.stateArrays(), state: state)
    }

    /// Runs until `totalSteps`, checkpointing every `save_every` steps and at the end.
    public func run() throws {
        // Memory freed while loading the data (or by the previous stage) is not left resident
        // beside the steps' tensors, nor the steps' tensors after the last step.
        TensorMemory.releaseFreeMemory()
        defer { TensorMemory.releaseFreeMemory() }
        let cfg = context.config
        let progress = Progress(total: totalSteps, log: context.log)
        let step = TrainingStep(optimizer: optimizer, parameters: parameters.map(\.1), clip: Float(cfg.clip))
        while state.step < totalSteps {
            var acc = MetricAccumulator()
            var batchIds: [String] = []
            let factor = lrFactor(state.step)
            let norm = try step.run(accumulate: cfg.gradAccum, lrScale: factor, context: {
                " at step \(state.step + 1); batch ids: \(batchIds.prefix(16).joined(separator: ", "))"
            }) { _ in
                let batch = try nextBatch()
                batchIds += batch.ids
                var total: Tensor? = nil
                var metrics: [String: Double] = [:]
                for (m, w) in methods {
                    let out = try m.loss(batch, context)
                    let scaled = out.loss.scaled(Float(w))
                    total = try total.map { try $0 + scaled } ?? scaled
                    for (k, v) in out.metrics { metrics[methods.count > 1 ? "\(m.id)/\(k)" : k] = v }
                    if methods.count > 1 { metrics["\(m.id)/loss"] = Double(out.loss.item) }
                }
                guard let total else { throw HalluError("no method produced a loss") }
                let value = Double(total.item)
                guard value.isFinite else {
                    throw HalluError("loss is \(value) at step \(state.step + 1); batch ids: \(batch.ids.prefix(16).joined(separator: ", "))")
                }
                metrics["loss"] = value
                acc.add(metrics)
                return total
            }
            state.step += 1
            context.step = state.step
            var m = acc.averages
            m["grad_norm"] = Double(norm)
            m["learning_rate"] = cfg.lr * Double(factor)
            state.lossHistory.append(m["loss"] ?? .nan)
            for (method, _) in methods { try method.didStep(state.step, context) }
            try appendMetrics(step: state.step, m)
            onStep?(state.step, m)
            progress.update(state.step, loss: m["loss"] ?? .nan)
            if cfg.saveEvery > 0 && state.step % cfg.saveEvery == 0 && state.step < totalSteps { try saveCheckpoint() }
        }
        try saveCheckpoint()
        progress.finish()
    }

    func appendMetrics(step: Int, _ m: [String: Double]) throws {
        var rec: [String: Any] = ["step": step]
        for (k, v) in m { rec[k] = v.isFinite ? v : nil }
        let line = String(data: try JSONSerialization.data(withJSONObject: rec, options: [.sortedKeys]), encoding: .utf8)! + "\n"
        if !FileManager.default.fileExists(atPath: metricsFile.path) { try AtomicFile.write("", to: metricsFile) }
        let h = try FileHandle(forWritingTo: metricsFile)
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: Data(line.utf8))
    }
}

/// A progress bar with rate and ETA on a terminal; plain lines every few steps otherwise.
final class Progress {
    let total: Int
    let start = Date()
    let tty = isatty(STDERR_FILENO) != 0
    let log: (String) -> Void
    /// What is counted ("step", "question", "token").
    let unit: String
    var lastPrint = Date.distantPast
    init(total: Int, unit: String = "step", log: @escaping (String) -> Void) { self.total = total; self.unit = unit; self.log = log }

    func update(_ step: Int, loss: Double? = nil) {
        let now = Date()
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(step) / max(elapsed, 1e-9)
        let eta = Double(total - step) / max(rate, 1e-9)
        let lossText = loss.map { String(format: "  loss %.4f", $0) } ?? ""
        let text = String(format: "%@ %d/%d%@  %.2f %@s/s  eta %ds", unit, step, total, lossText, rate, unit, Int(eta))
        if tty {
            let width = 24, filled = Int(Double(width) * Double(step) / Double(max(total, 1)))
            FileHandle.standardError.write(Data("\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(text)".utf8))
        } else if now.timeIntervalSince(lastPrint) > 5 || step == total {
            log(text)
            lastPrint = now
        }
    }

    func finish() { if tty { FileHandle.standardError.write(Data("\n".utf8)) } }
}
