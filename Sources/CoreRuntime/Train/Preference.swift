import Foundation

/// The reference policy of DPO-style methods. With LoRA it is the same model with its adapters
/// switched off (no second copy in memory); without LoRA, a frozen copy of the starting weights.
public final class ReferencePolicy {
    let policy: LlavaModel
    private var frozenCopy: LlavaModel?
    /// Cached reference log-probs by pair id (chosen, rejected), when precomputed.
    public var cache: [String: (Float, Float)] = [:]

    init(policy: LlavaModel) {
        self.policy = policy
        if !policy.hasLoRA {
            let copy = LlavaModel(policy.config, seed: 0)
            let src = Dictionary(uniqueKeysWithValues: policy.namedParameters())
            for (name, t) in copy.namedParameters() {
                if let s = src[name] { t.data.update(from: s.data, count: t.count) }
                t.requiresGrad = false
            }
            frozenCopy = copy
        }
    }

    /// The model that computes reference log-probs (never receives gradients).
    var model: LlavaModel { frozenCopy ?? policy }

    /// Summed log-probs `[2B]` of the sequences under the reference, without a tape.
    public func logProbs(_ inputs: LlavaInputs, context: TrainContext) throws -> [Float] {
        try logProbs(inputs, imageFeatures: nil)
    }

    /// Summed log-probs of the sequences under the reference, without a tape; `imageFeatures`
    /// (the reference's own) replaces the vision forward when given.
    func logProbs(_ inputs: LlavaInputs, imageFeatures: Tensor?) throws -> [Float] {
        try withNoGrad {
            if frozenCopy == nil { policy.setLoRAEnabled(false) }
            defer { if frozenCopy == nil { policy.setLoRAEnabled(true) } }
            return try model.sequenceLogProbs(inputs, imageFeatures: imageFeatures).values
        }
    }

    /// Whether the reference's image features equal the policy's: adapters only (no frozen copy)
    /// and none in the vision tower or the projector.
    var sharesImageFeatures: Bool {
        guard frozenCopy == nil else { return false }
        return !policy.namedModules().contains { name, m in
            (name.hasPrefix("model.vision_tower") || name.hasPrefix("model.multi_modal_projector")) && (m as? Linear)?.lora != nil
        }
    }

    /// Reference log-probs `[2B]` of `TrainContext.preferenceInputs`' batch, whose images are the
    /// pairs' images twice (chosen, then rejected): the vision tower runs once per pair, or not at
    /// all when the policy's features (`policyFeatures`) are the reference's too.
    public func pairedLogProbs(_ inputs: LlavaInputs, policyFeatures: Tensor?) throws -> [Float] {
        var feats: Tensor? = nil
        if let policyFeatures, sharesImageFeatures {
            feats = policyFeatures.detach()
        } else if let px = inputs.pixels, px.shape[0] % 2 == 0, px.shape[0] > 0 {
            feats = try withNoGrad {
                if frozenCopy == nil { policy.setLoRAEnabled(false) }
                defer { if frozenCopy == nil { policy.setLoRAEnabled(true) } }
                let f = try model.imageFeatures(px.slice(axis: 0, 0..<(px.shape[0] / 2)))
                return try Tensor.concat([f, f], axis: 0)
            }
        }
        return try logProbs(inputs, imageFeatures: feats)
    }
}

/// Direct Preference Optimisation with optional per-side weights (severity-aware DPO), shared by
/// every preference method.
public enum DPO {
    /// Summed log-probs of one batch of pairs under the policy and the reference.
    public struct LogProbs {
        public var policyChosen: Tensor     // [B], with gradient
        public var policyRejected: Tensor   // [B], with gradient
        public var refChosen: [Float]
        public var refRejected: [Float]
    }

    /// Runs the policy (one 2B batch) and the reference for `pairs`.
    public static func logProbs(_ pairs: [PreferencePair], _ ctx: TrainContext) throws -> LogProbs {
        let (inputs, feats) = try ctx.preferenceInputs(pairs)
        let b = pairs.count
        // The reference runs first, while the policy has no activations alive: its own temporary
        // memory then never adds to the policy's.
        var refC: [Float] = [], refR: [Float] = []
        if pairs.allSatisfy({ ctx.reference.cache[$0.id] != nil }) {
            for p in pairs { let (c, r) = ctx.reference.cache[p.id]!; refC.append(c); refR.append(r) }
        } else {
            let ref = try ctx.reference.pairedLogProbs(inputs, policyFeatures: feats)
            refC = Array(ref[0..<b]); refR = Array(ref[b..<(2 * b)])
        }
        let policy = try ctx.sequenceLogProbs(inputs, features: feats)
        return LogProbs(policyChosen: try policy.slice(axis: 0, 0..<b), policyRejected: try policy.slice(axis: 0, b..<(2 * b)),
                        refChosen: refC, refRejected: refR)
    }

    /// `loss_i = -log sigmoid(beta * (w_c (pi_c - ref_c) - w_r (pi_r - ref_r)))`, mean over the batch.
    /// With all weights 1 this is plain DPO. Logged rewards are unweighted, `beta (pi - ref)` per side.
    public static func loss(_ lp: LogProbs, beta: Float, chosenWeights: [Float]? = nil, rejectedWeights: [Float]? = nil) throws -> LossOutput {
        let b = lp.refChosen.count
        let wc = try Tensor(chosenWeights ?? Array(repeating: 1, count: b), shape: [b])
        let wr = try Tensor(rejectedWeights ?? Array(repeating: 1, count: b), shape: [b])
        let chosenRatio = try lp.policyChosen - Tensor(lp.refChosen, shape: [b])       // log pi(c) - log ref(c)
        let rejectedRatio = try lp.policyRejected - Tensor(lp.refRejected, shape: [b]) // log pi(r) - log ref(r)
        let h = try wc * chosenRatio - wr * rejectedRatio
        let loss = (h * beta).logSigmoid().mean().scaled(-1)
        let rc = chosenRatio.values.map { Double(beta * $0) }, rr = rejectedRatio.values.map { Double(beta * $0) }
        let n = Double(max(b, 1))
        return LossOutput(loss: loss, metrics: [
            "rewards/chosen": rc.reduce(0, +) / n,
            "rewards/rejected": rr.reduce(0, +) / n,
            "rewards/margins": zip(rc, rr).map { $0 - $1 }.reduce(0, +) / n,
            "rewards/accuracies": Double(zip(rc, rr).filter { $0 > $1 }.count) / n,
            "logps/chosen": lp.policyChosen.values.map(Double.init).reduce(0, +) / n,
            "logps/rejected": lp.policyRejected.values.map(Double.init).reduce(0, +) / n,
        ])
    }

    /// Computes and caches reference log-probs for every pair once (written to the run folder).
    public static func precomputeReference(_ pairs: [PreferencePair], _ ctx: TrainContext, batchSize: Int = 16) throws {
        let file = ctx.runDir.appendingPathComponent("reference_logps.json")
        if let saved = try? JSONFiles.readJSON(file.path) as? [String: [Double]] {
            for (k, v) in saved where v.count == 2 { ctx.reference.cache[k] = (Float(v[0]), Float(v[1])) }
            if pairs.allSatisfy({ ctx.reference.cache[$0.id] != nil }) { return }
        }
        var out: [String: [Double]] = [:]
        for start in stride(from: 0, to: pairs.count, by: batchSize) {
            let chunk = Array(pairs[start..<min(start + batchSize, pairs.count)])
            let (inputs, _) = try ctx.preferenceInputs(chunk)
            let ref = try ctx.reference.pairedLogProbs(inputs, policyFeatures: nil)
            for (i, p) in chunk.enumerated() {
                ctx.reference.cache[p.id] = (ref[i], ref[chunk.count + i])
                out[p.id] = [Double(ref[i]), Double(ref[chunk.count + i])]
            }
        }
        try AtomicFile.writeJSON(out, to: file, pretty: false)
    }
}
