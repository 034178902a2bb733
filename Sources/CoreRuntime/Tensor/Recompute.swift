import Foundation

/// An activation that a backward pass rebuilds instead of keeping it from the forward pass
/// (selective recomputation). It pays where rebuilding is cheap next to the memory it holds: a
/// norm's output (one pass over each row, from an input the norm keeps anyway) or a gated
/// activation (elementwise, from the two inputs its own backward keeps).
///
/// The backward steps that read the activation share one `Recomputable`: the first to need it
/// rebuilds it and the others read the same tensor. Each step lets go of it after use, so it is
/// freed as soon as the last of them is done. The rebuilt values are the forward pass's bit for
/// bit: the same kernels run on the same inputs with the same thread count.
public final class Recomputable {
    private var value: Tensor?
    private var rebuild: (() throws -> Tensor)?

    /// An activation that `rebuild` recomputes (without recording a graph) when first needed.
    public init(rebuild: @escaping () throws -> Tensor) { self.rebuild = rebuild }

    /// An activation kept from the forward pass.
    public init(keeping tensor: Tensor) { value = tensor }

    /// The activation, rebuilt on first use.
    public func tensor() throws -> Tensor {
        if let value { return value }
        guard let rebuild else { throw HalluError("recompute: the activation has no way to be rebuilt") }
        let t = try withNoGrad(rebuild)
        value = t
        self.rebuild = nil
        return t
    }
}

/// What the running backward pass promises about its graph.
enum BackwardPass {
    /// True while a backward pass runs with `retainGraph`: steps must leave what they saved intact
    /// for a second pass (no gradient written over a saved input, nothing let go early).
    @TaskLocal static var retainsGraph = false
}
