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
        let own = data.preferences.filter { $0.format == .hadpo }
        if !own.isEmpty { out.preferences = own }
        context.log("ha-dpo: training on \(out.preferences.count) preference pairs")
        return out
    }

    public func prepare(_ context: TrainContext) throws {
        try settings.prepareReference(context.data.preferences, context)
    }

    /// `-(1-eps) log sigmoid(beta h) - eps log sigmoid(-beta h) + gamma NLL(chosen)`, with
    /// `h = log pi(c)/pi_ref(c) - log pi(r)/pi_ref(r)` (see `HADPOLoss`).
    public func loss(_ batch: Batch, _ context: TrainContext) throws -> LossOutput {
        let lp = try DPO.logProbs(batch.preferences, context, sftObjective: settings.sftObjective(context))
        return try HADPOLoss.loss(lp, beta: settings.beta, labelSmoothing: settings.labelSmoothing, gamma: settings.gamma)
    }
}

/// What the library hands to hallu (see Entry/).
public enum HADPOPlugin {
    public static var plugin: HalluPlugin {
        let m = HADPOMethod()
        return HalluPlugin(name: "HADPO", methods: [MethodDescriptor(id: m.id, summary: m.summary, make: { HADPOMethod() })])
    }
}
