import Foundation

/// `y = x W^T + b` with PyTorch's `[out, in]` weight layout, and an optional LoRA adapter.
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?
    /// A low-rank adapter added to the output when present and enabled.
    public var lora: LoRA?

    /// Kaiming-uniform initialisation as `nn.Linear` (bound 1/sqrt(in)), from a seeded generator.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout SeededRNG) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Tensor.uniform([outFeatures, inFeatures], low: -bound, high: bound, rng: &rng, requiresGrad: true)
        self.bias = bias ? Tensor.uniform([outFeatures], low: -bound, high: bound, rng: &rng, requiresGrad: true) : nil
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public override var ownParameters: [(String, Tensor)] {
        var p = [("weight", weight)]
        if let bias { p.append(("bias", bias)) }
        return p
    }

    public override var children: [(String, Module)] { lora.map { $0.namedChildren } ?? [] }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let y = try Tensor.linear(x, weight, bias)
        guard let lora, lora.enabled else { return y }
        return try y + lora(x)
    }
}

/// A token-embedding table `[vocab, dim]`.
public final class Embedding: Module {
    public let weight: Tensor
    public init(_ count: Int, _ dim: Int, std: Float = 0.02, rng: inout SeededRNG) {
        weight = Tensor.randn([count, dim], std: std, rng: &rng, requiresGrad: true)
    }
    public override var ownParameters: [(String, Tensor)] { [("weight", weight)] }
    /// Looks up `ids`, returning `[ids.count, dim]`.
    public func callAsFunction(_ ids: [Int]) throws -> Tensor { try Tensor.embedding(weight, ids) }
}

/// Root-mean-square normalisation (Llama).
public final class RMSNorm: Module {
    public let weight: Tensor
    public let eps: Float
    public init(_ dim: Int, eps: Float) {
        weight = Tensor.ones([dim], requiresGrad: true)
        self.eps = eps
    }
    public override var ownParameters: [(String, Tensor)] { [("weight", weight)] }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try Tensor.rmsNorm(x, weight: weight, eps: eps) }
}

/// Layer normalisation with affine weight and bias (CLIP).
public final class LayerNorm: Module {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float
    public init(_ dim: Int, eps: Float) {
        weight = Tensor.ones([dim], requiresGrad: true)
        bias = Tensor.zeros([dim], requiresGrad: true)
        self.eps = eps
    }
    public override var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try Tensor.layerNorm(x, weight: weight, bias: bias, eps: eps) }
}
