import Foundation

/// The options DPO-style methods share, with their defaults and checks.
public struct DPOSettings: Equatable {
    /// Inverse temperature of the implicit reward (the LLaVA recipes of Zhao et al. 2023 and Xiao et al. 2025 use 0.1).
    public var beta: Float = 0.1
    /// Weight of the SFT term on the chosen answers.
    public var gamma: Float = DPOSettings.defaultGamma
    /// Conservative-DPO label smoothing (the probability that a pair's label is flipped).
    public var labelSmoothing: Float = 0
    /// Compute every reference log-prob once before training and cache it in the run folder.
    public var precomputeReference = false

    /// The default SFT weight: the MiniGPT-4 recipe of Zhao et al. (2023) uses 0.5; without the term, DPO on
    /// pairs that differ by a few tokens lowers the chosen answers too (see docs/methods/dpo.md).
    public static let defaultGamma: Float = 0.5

    public init() {}

    /// The option list; `labelSmoothing` adds the conservative-DPO option.
    public static func options(labelSmoothing: Bool) -> [MethodOption] {
        var out = [
            MethodOption("beta", "0.1", "DPO inverse temperature: rewards are beta * (log pi - log pi_ref); larger keeps the policy closer to the reference"),
            MethodOption("gamma", "\(defaultGamma)", "weight of the SFT term (mean token NLL of the chosen answers, under the run's token objective); 0 = the papers' LLaVA recipe, >0 keeps the chosen answers likely and the text fluent"),
            MethodOption("precompute_reference", "false", "compute reference log-probs once before training and cache them in the run folder (reference_logps.json) instead of a reference forward pass per step"),
        ]
        if labelSmoothing {
            out.append(MethodOption("label_smoothing", "0", "conservative DPO (as TRL's label_smoothing): assumed probability in [0, 0.5) that a preference label is wrong"))
        }
        return out
    }

    /// Parses and checks the shared options from resolved values.
    public init(_ values: [String: String], method: String) throws {
        let o = OptionValues(method: method, values: values)
        beta = try o.float("beta", above: 0)
        gamma = try o.float("gamma", atLeast: 0)
        precomputeReference = try o.bool("precompute_reference")
        if values["label_smoothing"] != nil { labelSmoothing = try o.float("label_smoothing", atLeast: 0, below: 0.5) }
    }

    /// Work every DPO-style method does before training: create the reference (so that a frozen copy
    /// holds the starting weights) and, if asked, precompute its log-probs for `pairs`.
    public func prepareReference(_ pairs: [PreferencePair], _ ctx: TrainContext) throws {
        ctx.log("reference policy: \(try ctx.reference.mode.rawValue)")
        if precomputeReference && !pairs.isEmpty { try DPO.precomputeReference(pairs, ctx) }
    }

    /// The chosen-side SFT objective to request from `DPO.logProbs` (nil when gamma is 0).
    public func sftObjective(_ ctx: TrainContext) -> TokenObjective? { gamma > 0 ? ctx.tokenObjective : nil }
}
