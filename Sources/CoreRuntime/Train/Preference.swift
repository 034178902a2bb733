import Foundation

/// The reference policy of DPO-style methods. With LoRA it is the same model with its adapters
/// switched off, so no second copy is held in memory; weights that train beside the adapters (a
/// projector, say) keep their starting values in a small snapshot that is swapped in while the
/// reference runs, as PEFT's disabled adapters restore `modules_to_save`. Without LoRA it is a frozen
/// copy of the policy as it was when the reference was created. Create it before the first
/// optimiser step (methods do so in `prepare`).
public final class ReferencePolicy {
    /// How the reference is realised.
    public enum Mode: String { case adaptersOff = "adapters-off", frozenCopy = "frozen-copy" }

    let policy: LlavaModel
    private var frozenCopy: LlavaModel?
    /// Adapters-off mode: the trainable non-adapter weights of the policy and their starting values.
    private var snapshot: [(name: String, live: Tensor, start: Tensor)] = []
    /// Cached reference log-probs (chosen, rejected) by `DPO.cacheKey(pair)`, when precomputed.
    public var cache: [String: (Float, Float)] = [:]

    init(policy: LlavaModel) throws {
        self.policy = policy
        if policy.hasLoRA {
            snapshot = policy.trainableParameters().filter { !Self.isAdapter($0.0) }.map { name, t in
                let start = Tensor(uninitializedShape: t.shape)
                start.data.update(from: t.data, count: t.count)
                return (name, t, start)
            }
        } else {
            let copy = try policy.mergedCopy()
            for (_, t) in copy.namedParameters() { t.requiresGrad = false }
            frozenCopy = copy
        }
    }

    static func isAdapter(_ name: String) -> Bool { name.contains(".lora_A.") || name.contains(".lora_B.") }

    /// Which realisation this reference uses.
    public var mode: Mode { frozenCopy == nil ? .adaptersOff : .frozenCopy }

    /// The model that computes reference log-probs (never receives gradients). In adapters-off mode
    /// this is the policy itself; only `withReferenceWeights` makes it the reference.
    var model: LlavaModel { frozenCopy ?? policy }

    /// The parameters the reference computes with: the frozen copy's, or the policy's without
    /// adapters (starting values for the weights that train beside them).
    public var parameters: [(String, Tensor)] {
        if let frozenCopy { return frozenCopy.namedParameters() }
        let start = Dictionary(uniqueKeysWithValues: snapshot.map { ($0.name, $0.start) })
        return policy.namedParameters().filter { !Self.isAdapter($0.0) }.map { ($0.0, start[$0.0] ?? $0.1) }
    }

    /// Runs `body` with `model` computing as the reference: in adapters-off mode, adapters off and
    /// the snapshot's starting values swapped in (and back out afterwards, bit for bit).
    func withReferenceWeights<T>(_ body: () throws -> T) rethrows -> T {
        guard frozenCopy == nil else { return try body() }
        let adapters = policy.namedModules().compactMap { ($0.1 as? Linear)?.lora }
        let wasEnabled = adapters.map(\.enabled)
        for a in adapters { a.enabled = false }
        swapSnapshot()
        defer {
            swapSnapshot()
            for (a, on) in zip(adapters, wasEnabled) { a.enabled = on }
        }
        return try body()
    }

    private func swapSnapshot() {
        for (_, live, start) in snapshot {
            for i in 0..<live.count { let v = live.data[i]; live.data[i] = start.data[i]; start.data[i] = v }
        }
    }

    /// Summed log-probs `[2B]` of the sequences under the reference, without a tape. When the pixels
    /// are one set of images repeated twice (a preference batch), each image is encoded once.
    public func logProbs(_ inputs: LlavaInputs, context: TrainContext) throws -> [Float] {
        try logProbs(inputs, policyFeatures: nil)
    }

    /// As `logProbs(_:context:)`; `policyFeatures` (the policy's image features for `inputs`) are
    /// reused when they are the reference's too, so the vision tower does not run again.
    public func logProbs(_ inputs: LlavaInputs, policyFeatures: Tensor?) throws -> [Float] {
        try withNoGrad { try withReferenceWeights {
            var features: Tensor? = nil
            if let policyFeatures, sharesImageFeatures {
                features = policyFeatures.detach()
            } else if let px = inputs.pixels, let half = Self.repeatedHalf(px) {
                let f = try model.imageFeatures(half)
                features = try Tensor.concat([f, f], axis: 0)
            }
            return try DPO.sequenceForward(model, inputs, features: features).logps.values
        } }
    }

    /// Whether the reference's image features equal the policy's: adapters off is the reference
    /// (no frozen copy), and no adapter or trained weight sits in the vision tower or the projector.
    var sharesImageFeatures: Bool {
        guard frozenCopy == nil else { return false }
        let imagePath = { (name: String) in name.hasPrefix("model.vision_tower") || name.hasPrefix("model.multi_modal_projector") }
        if snapshot.contains(where: { imagePath($0.name) }) { return false }
        return !policy.namedModules().contains { name, m in
            (name.hasPrefix("model.vision_tower") || name.hasPrefix("model.multi_modal_projector")) && (m as? Linear)?.lora != nil
        }
    }

    /// The first half of `x` along axis 0 when the second half is a bitwise copy of it.
    private static func repeatedHalf(_ x: Tensor) -> Tensor? {
        let n = x.shape[0]
        guard n % 2 == 0, n > 0 else { return nil }
        let half = x.count / 2
        guard memcmp(x.data, x.data + half, half * MemoryLayout<Float>.size) == 0 else { return nil }
        return try? x.slice(axis: 0, 0..<(n / 2))
    }
}

/// Direct Preference Optimisation machinery shared by every preference method: the paired forward
/// pass, the reference log-probs (online or precomputed), the general weighted loss and its metrics.
public enum DPO {
    /// Summed answer log-probs of one batch of pairs under the policy and the reference.
    public struct LogProbs {
        /// `[B]` log pi(chosen), with gradient.
        public var policyChosen: Tensor
        /// `[B]` log pi(rejected), with gradient.
        public var policyRejected: Tensor
        /// log pi_ref(chosen) per pair.
        public var refChosen: [Float]
        /// log pi_ref(rejected) per pair.
        public var refRejected: [Float]
        /// The run's token objective on the chosen answers (mean over their tokens), when requested.
        public var chosenSFT: Tensor?
        /// Supervised tokens in the chosen answers.
        public var chosenTokens: Int

        public init(policyChosen: Tensor, policyRejected: Tensor, refChosen: [Float], refRejected: [Float],
                    chosenSFT: Tensor? = nil, chosenTokens: Int = 0) {
            self.policyChosen = policyChosen; self.policyRejected = policyRejected
            self.refChosen = refChosen; self.refRejected = refRejected
            self.chosenSFT = chosenSFT; self.chosenTokens = chosenTokens
        }

        /// Number of pairs.
        public var count: Int { refChosen.count }
    }

    /// One forward pass over a batch of sequences: summed log-probs of the supervised tokens per
    /// sequence, and the supervised logits with their targets (rows ordered by sequence).
    public static func sequenceForward(_ model: LlavaModel, _ inputs: LlavaInputs, features: Tensor?) throws
        -> (logps: Tensor, logits: Tensor, targets: [Int], sequenceOfRow: [Int]) {
        // Right padding (or none, packed), so every sequence's positions count from 0 (chosen and
        // rejected agree).
        let (h, layout) = try model.hidden(inputs, imageFeatures: features)
        let (rows, targets) = LlavaModel.shiftedTargets(layout)
        let d = model.config.text.hiddenSize
        let logits = try model.languageModel.logits(h.reshaped([-1, d]).indexSelect(rows))
        let sequenceOfRow = rows.map { $0 / layout.length }
        let logps = try sequenceLogProbs(logits: logits, targets: targets, sequenceOfRow: sequenceOfRow, sequences: inputs.ids.count)
        return (logps, logits, targets, sequenceOfRow)
    }

    /// `sum_t log softmax(logits_t)[target_t]` per sequence: `[sequences]`, as the DPO trainers'
    /// `_get_batch_logps` with `average_log_prob=False` (full-vocabulary softmax, summed).
    public static func sequenceLogProbs(logits: Tensor, targets: [Int], sequenceOfRow: [Int], sequences: Int) throws -> Tensor {
        let tokenLogp = try Tensor.crossEntropyRows(logits, targets: targets).scaled(-1)
        return try tokenLogp.segmentSum(sequenceOfRow, count: sequences)
    }

    /// The token objective on the rows of the first `chosen` sequences (rows are ordered by sequence,
    /// chosen sequences first), and how many rows that is.
    public static func chosenSFT(logits: Tensor, targets: [Int], sequenceOfRow: [Int], chosen: Int,
                                 objective: TokenObjective) throws -> (loss: Tensor, tokens: Int) {
        let n = sequenceOfRow.prefix { $0 < chosen }.count
        guard n > 0, !sequenceOfRow[n...].contains(where: { $0 < chosen }) else {
            throw HalluError("SFT term: the chosen answers have no supervised tokens, or rows are not ordered by sequence")
        }
        return (try objective.loss(logits: logits.slice(axis: 0, 0..<n), targets: Array(targets[0..<n])), n)
    }

    /// Runs the policy on `pairs` as one batch of 2B (chosen first; prompt tokens and image features
    /// shared by each pair's two sequences) and gets the reference log-probs (from the precomputed
    /// cache when every pair is in it). With `sftObjective`, also that objective on the chosen answers,
    /// taken from the same forward pass.
    public static func logProbs(_ pairs: [PreferencePair], _ ctx: TrainContext, sftObjective: TokenObjective? = nil) throws -> LogProbs {
        guard !pairs.isEmpty else { throw HalluError("preference loss: the batch has no preference pairs (does the data hold any?)") }
        let b = pairs.count
        let (inputs, feats) = try ctx.preferenceInputs(pairs)
        // The reference runs before the policy's forward pass: its temporary memory is then never
        // alive together with the policy's saved activations.
        let (refC, refR) = try referenceLogProbs(pairs, inputs, feats, ctx)
        let out = try sequenceForward(ctx.model, inputs, features: feats)
        let supervised = out.sequenceOfRow.reduce(into: [Int](repeating: 0, count: 2 * b)) { $0[$1] += 1 }
        if let empty = supervised.firstIndex(of: 0) {
            throw HalluError("pair \(pairs[empty % b].id): the \(empty < b ? "chosen" : "rejected") answer has no supervised tokens")
        }
        var sft: Tensor? = nil, tokens = supervised[0..<b].reduce(0, +)
        if let sftObjective {
            (sft, tokens) = try chosenSFT(logits: out.logits, targets: out.targets, sequenceOfRow: out.sequenceOfRow, chosen: b, objective: sftObjective)
        }
        return LogProbs(policyChosen: try out.logps.slice(axis: 0, 0..<b), policyRejected: try out.logps.slice(axis: 0, b..<(2 * b)),
                        refChosen: refC, refRejected: refR, chosenSFT: sft, chosenTokens: tokens)
    }

    private static func referenceLogProbs(_ pairs: [PreferencePair], _ inputs: LlavaInputs, _ features: Tensor?,
                                          _ ctx: TrainContext) throws -> ([Float], [Float]) {
        let reference = try ctx.reference
        let cached = pairs.compactMap { reference.cache[cacheKey($0)] }
        if cached.count == pairs.count { return (cached.map(\.0), cached.map(\.1)) }
        let ref = try reference.logProbs(inputs, policyFeatures: features)
        return (Array(ref[0..<pairs.count]), Array(ref[pairs.count...]))
    }

    /// The DPO objective, the one every preference method trains with, mean over the batch:
    ///
    ///     h_i    = w_c,i (log pi(c_i) - log pi_ref(c_i)) - w_r,i (log pi(r_i) - log pi_ref(r_i))
    ///     loss_i = -(1 - eps) log sigmoid(beta h_i) - eps log sigmoid(-beta h_i)
    ///     loss   = mean_i loss_i + gamma NLL(chosen)
    ///
    /// With no weights (every w 1), eps 0 and gamma 0 it is DPO (Rafailov et al. 2023). Per-pair
    /// weights scale each side's implicit reward inside the sigmoid (severity-weighted DPO, Xiao et al.
    /// 2025); eps is conservative DPO's label smoothing (TRL's `label_smoothing`); gamma adds the SFT
    /// term on the chosen answers (`LogProbs.chosenSFT`), logged apart as `dpo_loss` and `sft_loss`.
    /// The reward metrics are unweighted (`metrics`).
    public static func loss(_ lp: LogProbs, beta: Float, chosenWeights: [Float]? = nil, rejectedWeights: [Float]? = nil,
                            labelSmoothing eps: Float = 0, gamma: Float = 0) throws -> LossOutput {
        let b = lp.count
        for (side, w) in [("chosen", chosenWeights), ("rejected", rejectedWeights)] where w != nil && w!.count != b {
            throw HalluError("DPO: \(w!.count) \(side) weights for \(b) pairs")
        }
        let (chosenRatio, rejectedRatio) = try logRatios(lp)                       // log pi/pi_ref per side
        let c = try chosenWeights.map { try Tensor($0, shape: [b]) * chosenRatio } ?? chosenRatio
        let r = try rejectedWeights.map { try Tensor($0, shape: [b]) * rejectedRatio } ?? rejectedRatio
        let h = try c - r                                                            // w_c(...) - w_r(...)
        var perPair = (h * beta).logSigmoid().scaled(-(1 - eps))                     // -(1-eps) log sigmoid(beta h)
        if eps != 0 { perPair = try perPair - (h * (-beta)).logSigmoid().scaled(eps) } // - eps log sigmoid(-beta h)
        let dpo = LossOutput(loss: perPair.mean(), metrics: metrics(lp, beta: beta))  // mean over pairs
        return try addingSFT(dpo, lp, gamma: gamma)                                  // + gamma NLL(chosen)
    }

    /// `(log pi(c) - log pi_ref(c), log pi(r) - log pi_ref(r))`, each `[B]` with gradient.
    public static func logRatios(_ lp: LogProbs) throws -> (chosen: Tensor, rejected: Tensor) {
        let b = lp.count
        guard lp.policyChosen.shape == [b], lp.policyRejected.shape == [b], lp.refRejected.count == b else {
            throw HalluError("DPO: log-prob shapes disagree (policy \(lp.policyChosen.shape)/\(lp.policyRejected.shape), reference \(b)/\(lp.refRejected.count))")
        }
        return (try lp.policyChosen - Tensor(lp.refChosen, shape: [b]), try lp.policyRejected - Tensor(lp.refRejected, shape: [b]))
    }

    /// TRL's metric names, averaged over the pairs. Rewards are `beta (log pi - log pi_ref)` per side,
    /// unweighted; an accuracy counts a pair whose chosen reward is strictly larger.
    public static func metrics(_ lp: LogProbs, beta: Float) -> [String: Double] {
        let n = Double(max(lp.count, 1))
        let pc = lp.policyChosen.values, pr = lp.policyRejected.values
        let rc = (0..<lp.count).map { Double(beta) * (Double(pc[$0]) - Double(lp.refChosen[$0])) }
        let rr = (0..<lp.count).map { Double(beta) * (Double(pr[$0]) - Double(lp.refRejected[$0])) }
        return [
            "rewards/chosen": rc.reduce(0, +) / n,
            "rewards/rejected": rr.reduce(0, +) / n,
            "rewards/margins": zip(rc, rr).map { $0 - $1 }.reduce(0, +) / n,
            "rewards/accuracies": Double(zip(rc, rr).filter { $0 > $1 }.count) / n,
            "logps/chosen": pc.map(Double.init).reduce(0, +) / n,
            "logps/rejected": pr.map(Double.init).reduce(0, +) / n,
        ]
    }

    /// Adds `gamma` times the chosen-side SFT term to a DPO loss and logs both parts (`dpo_loss`,
    /// `sft_loss`). With `gamma == 0` the loss is returned unchanged.
    static func addingSFT(_ out: LossOutput, _ lp: LogProbs, gamma: Float) throws -> LossOutput {
        guard gamma != 0 else { return out }
        guard let sft = lp.chosenSFT else { throw HalluError("DPO: gamma is \(gamma) but the log-probs were computed without the SFT term") }
        var m = out.metrics
        m["dpo_loss"] = Double(out.loss.item)
        m["sft_loss"] = Double(sft.item)
        return LossOutput(loss: try out.loss + sft.scaled(gamma), metrics: m)
    }
}
