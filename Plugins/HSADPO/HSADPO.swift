import CoreRuntime
import Foundation

/// HSA-DPO (Xiao et al., "Detecting and Mitigating Hallucination in Large Vision Language Models via
/// Fine-Grained AI Feedback", AAAI 2025, arXiv 2404.14233): severity-aware DPO. Each pair's rejected
/// answer carries a score derived from the severity of its hallucinations; the score scales the
/// rejected side's implicit reward inside the sigmoid.
///
/// Pairs come from a `PreferenceSource`: by default the run's preference data (the
/// `hsa_dpo_preference` format); with `pipeline=true`, HSA-DPO's detect-then-rewrite pipeline
/// (`HSAPipeline`: the model describes training images, a detector labels hallucinated sentences
/// with type and severity, the rewrite makes the chosen side, the severities the score). Any other
/// source plugs in by setting `source`.
public final class HSADPOMethod: Method {
    public init() {}
    public var id: String { "hsadpo" }
    public var summary: String { "HSA-DPO: severity-aware DPO (rejected rewards weighted by hallucination severity), with an optional SFT term on the chosen answers" }
    public var options: [MethodOption] {
        DPOSettings.options(labelSmoothing: false) + [
            MethodOption("use_chosen_score", "false", "weight the chosen side's reward by the pair's chosen_score (missing = 1)"),
            MethodOption("use_rejected_score", "true", "weight the rejected side's reward by the pair's rejected_score (missing = 1)"),
        ] + HSAPipelineSettings.options()
    }
    public var dataKinds: [DataKind] { [.preference] }
    /// HSA-DPO trains LLaVA-1.5 with DPO at lr 2e-6, beta 0.1. Scaled to the world as HA-DPO is:
    /// 100 steps of 8 pairs at 1e-4 (docs/RESULTS.md, "Run defaults").
    public var runDefaults: RunDefaults {
        RunDefaults(lr: 1e-4, steps: 100, batchSize: 8,
                    source: "HSA-DPO: LLaVA-1.5 DPO at lr 2e-6, beta 0.1; on the world: 100 steps of 8 pairs at 1e-4 (docs/RESULTS.md)")
    }
    /// The parsed shared DPO options.
    public private(set) var settings = DPOSettings()
    public private(set) var useChosenScore = false
    public private(set) var useRejectedScore = true
    /// Where the training pairs come from.
    public var source: PreferenceSource = DatasetPreferences()
    /// The parsed pipeline options (used when `pipeline` is true).
    public private(set) var pipeline = HSAPipelineSettings()

    public func configure(_ values: [String: String]) throws {
        let resolved = try OptionValues.resolve(options, overrides: values, method: id)
        settings = try DPOSettings(resolved, method: id)
        let o = OptionValues(method: id, values: resolved)
        useChosenScore = try o.bool("use_chosen_score")
        useRejectedScore = try o.bool("use_rejected_score")
        pipeline = try HSAPipelineSettings(resolved, method: id)
        if pipeline.enabled {
            source = HSAPipeline(settings: pipeline)
        } else if source is HSAPipeline {
            source = DatasetPreferences()
        }
    }

    /// Takes the pairs from `source` and checks every score that will be used, so that a bad score
    /// fails before training rather than mid-run.
    public func transformData(_ data: TrainingData, _ context: TrainContext) throws -> TrainingData {
        var out = data
        // HSA-DPO's own pairs (with severity scores) when the folder has them; otherwise every pair.
        let own = data.preferences.filter { $0.source == HSADPOData.preferenceFormatName }
        if !own.isEmpty { out.preferences = own }
        out.preferences = try source.pairs(out, context)
        _ = try SeverityWeights.weights(out.preferences, useChosenScore: useChosenScore, useRejectedScore: useRejectedScore)
        return out
    }

    public func prepare(_ context: TrainContext) throws {
        let pairs = context.data.preferences
        if useRejectedScore || useChosenScore {
            let scored = pairs.filter { (useRejectedScore && $0.rejectedScore != nil) || (useChosenScore && $0.chosenScore != nil) }.count
            context.log("hsadpo: \(scored) of \(pairs.count) pairs carry a severity score (\(source.name)); the others train as plain DPO")
        }
        try settings.prepareReference(pairs, context)
    }

    /// `-log sigmoid(beta [w_c log pi(c)/pi_ref(c) - w_r log pi(r)/pi_ref(r)]) + gamma NLL(chosen)`:
    /// `DPO.loss` with the severity weights (`SeverityWeights`).
    public func loss(_ batch: Batch, _ context: TrainContext) throws -> LossOutput {
        let pairs = batch.preferences
        let w = try SeverityWeights.weights(pairs, useChosenScore: useChosenScore, useRejectedScore: useRejectedScore)
        let lp = try DPO.logProbs(pairs, context, sftObjective: settings.sftObjective(context))
        return try DPO.loss(lp, beta: settings.beta, chosenWeights: w.chosen, rejectedWeights: w.rejected, gamma: settings.gamma)
    }

    /// With the pipeline: the pairs it made, hallucinated sentences by type, and the detector's
    /// sentence-level precision, recall, F1 and type accuracy (held-out detection records, and the
    /// pipeline's own descriptions against the ground truth when the world's is available).
    public func evaluate(_ context: TrainContext) throws -> [String: Double] {
        (source as? HSAPipeline)?.metrics ?? [:]
    }
}

/// What the library hands to hallu (see Entry/).
public enum HSADPOPlugin {
    public static var plugin: HalluPlugin {
        let m = HSADPOMethod()
        return HalluPlugin(name: "HSADPO", methods: [MethodDescriptor(id: m.id, summary: m.summary, make: { HSADPOMethod() })],
                           dataFormats: [HSADPOData.preferenceFormat, HSADPOData.detectionFormat], worldExports: [HSADPOData.worldExport],
                           evaluators: [SeverityEvaluator()])
    }
}
