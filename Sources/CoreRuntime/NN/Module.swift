import Foundation

/// A building block with named parameters and named children. Names are Hugging Face's dotted
/// parameter names (`model.language_model.layers.0.self_attn.q_proj.weight`), so a checkpoint maps
/// onto a model without a translation table.
open class Module {
    /// Whether the module is in training mode (dropout active).
    public var training = true

    public init() {}

    /// This module's own tensors, by local name (e.g. "weight", "bias").
    open var ownParameters: [(String, Tensor)] { [] }

    /// Direct children, by local name (e.g. "q_proj", or "0" for list items).
    open var children: [(String, Module)] { [] }

    /// Every parameter in the tree, with its full dotted name.
    public func namedParameters(prefix: String = "") -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        collect(prefix: prefix, into: &out)
        return out
    }

    private func collect(prefix: String, into out: inout [(String, Tensor)]) {
        for (n, t) in ownParameters { out.append((prefix.isEmpty ? n : "\(prefix).\(n)", t)) }
        for (n, c) in children { c.collect(prefix: prefix.isEmpty ? n : "\(prefix).\(n)", into: &out) }
    }

    /// Every module in the tree (depth first), with its dotted path.
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        var out: [(String, Module)] = [(prefix, self)]
        for (n, c) in children { out += c.namedModules(prefix: prefix.isEmpty ? n : "\(prefix).\(n)") }
        return out
    }

    /// Parameters that currently receive gradients.
    public func trainableParameters() -> [(String, Tensor)] { namedParameters().filter { $0.1.requiresGrad } }

    /// Switches training mode (dropout) for the whole tree.
    public func train(_ on: Bool = true) { for (_, m) in namedModules() { m.training = on } }

    /// Freezes (or unfreezes) every parameter whose name starts with one of `prefixes`; an empty
    /// prefix matches all. Returns how many tensors changed.
    @discardableResult
    public func setTrainable(_ on: Bool, prefixes: [String]) -> Int {
        var n = 0
        for (name, t) in namedParameters() where prefixes.contains(where: { $0.isEmpty || name == $0 || name.hasPrefix($0 + ".") || name.hasPrefix($0) && $0.hasSuffix(".") }) {
            if t.requiresGrad != on { t.requiresGrad = on; n += 1 }
        }
        return n
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for (_, t) in namedParameters() { t.grad = nil } }

    /// Total number of scalars.
    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.1.count } }
}

/// An ordered list of modules, named "0", "1", ... like `nn.ModuleList`.
public final class ModuleList<M: Module>: Module {
    public let items: [M]
    public init(_ items: [M]) { self.items = items }
    public override var children: [(String, Module)] { items.enumerated().map { ("\($0.offset)", $0.element) } }
}
