import Foundation

/// The naming schemes of `LlavaForConditionalGeneration` weights across transformers versions.
///
/// hallu names parameters by `.modules` (the module paths of transformers 5). Loading renames any
/// layout to it; saving can write any layout.
///
/// | layout | language model | LM head | vision tower | projector |
/// |---|---|---|---|---|
/// | `.modules` (transformers 5 modules) | `model.language_model.*` | `lm_head.*` | `model.vision_tower.*` | `model.multi_modal_projector.*` |
/// | `.modulesNested` (transformers 4.52-4.x) | `model.language_model.*` | `lm_head.*` | `model.vision_tower.vision_model.*` | `model.multi_modal_projector.*` |
/// | `.legacy` (transformers < 4.52, llava-hf releases) | `language_model.model.*` | `language_model.lm_head.*` | `vision_tower.vision_model.*` | `multi_modal_projector.*` |
/// | `.legacyFlat` (what transformers 5 `save_pretrained` writes) | `language_model.model.*` | `language_model.lm_head.*` | `vision_tower.*` | `multi_modal_projector.*` |
///
/// transformers 5.23 loads all four; `.legacy` is the one that transformers 4.x of every version also loads.
public enum LlavaWeightLayout: String, CaseIterable, Sendable {
    case modules, modulesNested, legacy, legacyFlat

    /// The layout hallu writes by default: the installed transformers' own parameter names.
    public static let `default`: LlavaWeightLayout = .modules

    /// Maps a name in any layout to hallu's names (`.modules`). Names outside the four sub-models
    /// (e.g. a bare `lm_head.weight`) pass through unchanged.
    public static func canonicalName(_ name: String) -> String {
        var n = name
        if let rest = n.dropPrefix("language_model.model.") { n = "model.language_model." + rest }
        else if let rest = n.dropPrefix("language_model.lm_head.") { n = "lm_head." + rest }
        else if let rest = n.dropPrefix("vision_tower.") { n = "model.vision_tower." + rest }
        else if let rest = n.dropPrefix("multi_modal_projector.") { n = "model.multi_modal_projector." + rest }
        if let rest = n.dropPrefix("model.vision_tower.vision_model.") { n = "model.vision_tower." + rest }
        return n
    }

    /// Maps one of hallu's names (`.modules`) into this layout.
    public func name(forCanonical name: String) -> String {
        switch self {
        case .modules:
            return name
        case .modulesNested:
            if let rest = name.dropPrefix("model.vision_tower.") { return "model.vision_tower.vision_model." + rest }
            return name
        case .legacy, .legacyFlat:
            if let rest = name.dropPrefix("model.language_model.") { return "language_model.model." + rest }
            if let rest = name.dropPrefix("lm_head.") { return "language_model.lm_head." + rest }
            if let rest = name.dropPrefix("model.vision_tower.") {
                return (self == .legacy ? "vision_tower.vision_model." : "vision_tower.") + rest
            }
            if let rest = name.dropPrefix("model.multi_modal_projector.") { return "multi_modal_projector." + rest }
            return name
        }
    }

    /// The layout whose naming all of `names` follow, or nil when they fit none or several equally
    /// (e.g. a set with no vision-tower or language-model names).
    public static func detect(_ names: some Collection<String>) -> LlavaWeightLayout? {
        let fits = allCases.filter { layout in
            names.allSatisfy { layout.name(forCanonical: canonicalName($0)) == $0 }
        }
        return fits.count == 1 ? fits[0] : nil
    }

    /// Renames arrays from any layout to hallu's names. Two source names that land on the same
    /// name (a file mixing layouts) are an error naming both.
    public static func canonicalize<V>(_ arrays: [String: V], file: String) throws -> [String: V] {
        var out: [String: V] = [:]
        var source: [String: String] = [:]
        for name in arrays.keys.sorted() {
            let c = canonicalName(name)
            if let other = source[c] {
                throw HalluError.file(file, "tensors \"\(other)\" and \"\(name)\" both map to \"\(c)\" (mixed weight layouts)")
            }
            source[c] = name
            out[c] = arrays[name]!
        }
        return out
    }

    /// Renames arrays from hallu's names into this layout.
    public func rename<V>(_ arrays: [String: V]) -> [String: V] {
        Dictionary(uniqueKeysWithValues: arrays.map { (name(forCanonical: $0.key), $0.value) })
    }
}

fileprivate extension String {
    /// The rest of the string after `prefix`, or nil when it does not start with it.
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
