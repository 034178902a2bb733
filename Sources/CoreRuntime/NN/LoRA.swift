import Foundation

/// A low-rank adapter (Hu et al.): `delta(x) = dropout(x) A^T B^T * alpha / r`, with A `[r, in]`
/// and B `[out, r]` as PEFT stores them (`lora_A.weight`, `lora_B.weight`). B starts at zero, so a
/// fresh adapter leaves the model unchanged. rsLoRA (Kalajdzievski) scales by `alpha / sqrt(r)`
/// instead, as PEFT does with `use_rslora`.
public final class LoRA {
    public let a: Tensor
    public let b: Tensor
    public let rank: Int
    public let alpha: Float
    public let dropout: Float
    /// Rank-stabilised scaling: alpha / sqrt(r) (PEFT's `use_rslora`).
    public let rsLoRA: Bool
    /// When false the adapter contributes nothing: the base model (e.g. DPO's reference) is visible.
    public var enabled = true
    var rng: SeededRNG

    public init(inFeatures: Int, outFeatures: Int, rank: Int, alpha: Float, dropout: Float = 0, rsLoRA: Bool = false,
                rng: inout SeededRNG) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.rsLoRA = rsLoRA
        // PEFT's default: A Kaiming-uniform (a = sqrt(5)), B zeros.
        let bound = 1 / Float(inFeatures).squareRoot()
        a = Tensor.uniform([rank, inFeatures], low: -bound, high: bound, rng: &rng, requiresGrad: true)
        b = Tensor.zeros([outFeatures, rank], requiresGrad: true)
        self.rng = SeededRNG(seed: rng.next())
    }

    /// alpha / r, or alpha / sqrt(r) with rsLoRA (computed in double precision, as PEFT's Python float).
    public var scaling: Float {
        rsLoRA ? Float(Double(alpha) / Double(rank).squareRoot()) : alpha / Float(rank)
    }

    /// The adapter's parameters as children of the Linear it is attached to.
    var namedChildren: [(String, Module)] { [("lora_A", ParamHolder(a)), ("lora_B", ParamHolder(b))] }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = x
        if dropout > 0 && GradMode.isEnabled { h = try h.dropout(dropout, rng: &rng) }
        return try Tensor.linear(Tensor.linear(h, a, nil), b, nil).scaled(scaling)
    }
}

/// Exposes one tensor as `<name>.weight`.
final class ParamHolder: Module {
    let weight: Tensor
    init(_ w: Tensor) { weight = w }
    override var ownParameters: [(String, Tensor)] { [("weight", weight)] }
}

extension Module {
    /// Attaches LoRA adapters to every Linear whose dotted path ends with one of `targets`
    /// (e.g. ["q_proj", "v_proj"]) and lies under `scope`; freezes everything else. Returns the paths.
    @discardableResult
    public func applyLoRA(targets: [String], rank: Int, alpha: Float, dropout: Float, scope: String = "", seed: UInt64) -> [String] {
        var rng = SeededRNG(seed: seed)
        var paths: [String] = []
        for (path, m) in namedModules() {
            guard let lin = m as? Linear, lin.lora == nil, path.hasPrefix(scope),
                  targets.contains(where: { path == $0 || path.hasSuffix("." + $0) }) else { continue }
            lin.lora = LoRA(inFeatures: lin.inFeatures, outFeatures: lin.outFeatures, rank: rank, alpha: alpha, dropout: dropout, rng: &rng)
            paths.append(path)
        }
        for (name, t) in namedParameters() { t.requiresGrad = name.contains(".lora_A.") || name.contains(".lora_B.") }
        return paths
    }

    /// Turns every LoRA adapter on or off (off = the base model).
    public func setLoRAEnabled(_ on: Bool) {
        for (_, m) in namedModules() { (m as? Linear)?.lora?.enabled = on }
    }

    /// Whether any adapter is attached.
    public var hasLoRA: Bool { namedModules().contains { ($0.1 as? Linear)?.lora != nil } }

    /// Folds every adapter into its base weight (`W += B A * alpha/r`) and removes it.
    public func mergeLoRA() throws {
        let folded = try foldedLoRAWeights()
        for (path, m) in namedModules() {
            guard let lin = m as? Linear, lin.lora != nil else { continue }
            if let w = folded[path] { lin.weight.data.update(from: w.data, count: w.count) }
            lin.lora = nil
        }
    }

    /// The weight of every Linear with an enabled adapter, with the adapter folded in
    /// (`W + B A * alpha/r`, a new tensor), by module path. The one place adapters are merged: a
    /// merged checkpoint, a merged copy of a model and `mergeLoRA` all go through it.
    public func foldedLoRAWeights() throws -> [String: Tensor] {
        try withNoGrad {
            var out: [String: Tensor] = [:]
            for (path, m) in namedModules() {
                guard let lin = m as? Linear, let l = lin.lora, l.enabled else { continue }
                let delta = try l.b.matmul(l.a).scaled(l.scaling)
                let w = lin.weight.copy()
                for i in 0..<w.count { w.data[i] += delta.data[i] }
                out[path] = w
            }
            return out
        }
    }
}
