import CoreRuntime
import Foundation

/// HA-DPO (Zhao et al., "Beyond Hallucinations: Enhancing LVLMs through Hallucination-Aware Direct
/// Preference Optimization", arXiv 2311.16839): DPO on pairs of a faithful (chosen) and a
/// hallucinated (rejected) answer to the same image and question. The reference is the starting model
/// (adapters off with LoRA, a frozen copy otherwise).
public final class HADPOMethod: Method {
    public init() {}
    public var id: String { "ha-dpo" }
    public var summary: String { "HA-DPO: DPO on hallucination-aware preference pairs (beta 0.1), with an optional SFT term on the chosen answers" }
    public var options: [MethodOption] { DPOSettings.options(labelSmoothing: true) }
    public var dataKinds: [DataKind] { [.preference] }
    /// HA-DPO trains LLaVA-1.5 at lr 2e-6 (a tenth of its SFT lr), beta 0.1. The world's model was
    /// trained at 2e-3; at 1e-4 and 100 steps DPO moves its hallucinations without the yes/no drift
    /// of longer or faster runs (docs/RESULTS.md, "Run defaults").
    public var runDefaults: RunDefaults {
        RunDefaults(lr: 1e-4, steps: 100, batchSize: 8,
                    source: "HA-DPO: LLaVA-1.5 at lr 2e-6, beta 0.1; on the world: 100 steps of 8 pairs at 1e-4 (docs/RESULTS.md)")
    }
    /// The parsed options.
    public private(set) var settings = DPOSettings()

    public func configure(_ values: [String: String]) throws {
        let resolved = try OptionValues.resolve(options, overrides: values, method: id)
        settings = try DPOSettings(resolved, method: id)
    }

    /// Trains on HA-DPO's own pairs (desc_data.json + pope_data.json) when the data folder has them,
    /// and on every preference pair otherwise (e.g. a folder with only an HSA-DPO file).
    public func transformData(_ data: TrainingData, _ context: TrainContext) throws -> TrainingData {
        var out = data
        let own = data.preferences.filter { $0.source == HADPOData.formatName }
        if !own.isEmpty { out.preferences = own }
        context.log("ha-dpo: training on \(out.preferences.count) preference pairs")
        return out
    }

    public func prepare(_ context: TrainContext) throws {
        try settings.prepareReference(context.data.preferences, context)
    }

    /// `-(1-eps) log sigmoid(beta h) - eps log sigmoid(-beta h) + gamma NLL(chosen)`, with
    /// `h = log pi(c)/pi_ref(c) - log pi(r)/pi_ref(r)`: `DPO.loss` without weights. HA-DPO's LLaVA recipe
    /// is eps 0, gamma 0, beta 0.1; its MiniGPT-4 branch adds the SFT term.
    public func loss(_ batch: Batch, _ context: TrainContext) throws -> LossOutput {
        let lp = try DPO.logProbs(batch.preferences, context, sftObjective: settings.sftObjective(context))
        return try DPO.loss(lp, beta: settings.beta, labelSmoothing: settings.labelSmoothing, gamma: settings.gamma)
    }
}

/// What the library hands to hallu (see Entry/).
public enum HADPOPlugin {
    public static var plugin: HalluPlugin {
        let m = HADPOMethod()
        return HalluPlugin(name: "HADPO", methods: [MethodDescriptor(id: m.id, summary: m.summary, make: { HADPOMethod() })],
                           dataFormats: [HADPOData.format], worldExports: [HADPOData.worldExport])
    }
}
