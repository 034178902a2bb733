import CoreRuntime

extension Tensor {
    /// HACL's similarity logits, `a bᵀ / τ`: `[N, d]` and `[M, d]` embeddings against a learnable scalar
    /// temperature, as one op with its own backward (through `Tensor.custom`):
    ///
    ///     s = a bᵀ / τ,   da = (g / τ) b,   db = (g / τ)ᵀ a,   dτ = -sum(g ⊙ a bᵀ) / τ²
    ///
    /// The graph keeps `a bᵀ` and the inputs, not the three intermediate results of transpose,
    /// product and division.
    static func similarityLogits(_ a: Tensor, _ b: Tensor, temperature: Tensor) throws -> Tensor {
        guard a.rank == 2, b.rank == 2, a.shape[1] == b.shape[1] else {
            throw HalluError("hacl similarity: embeddings \(a.shape) and \(b.shape) must be [N, d] and [M, d]")
        }
        guard temperature.count == 1 else { throw HalluError("hacl similarity: temperature must be a scalar, got \(temperature.shape)") }
        var raw: Tensor? = nil
        return try Tensor.custom("hacl_similarity", inputs: [a, b, temperature], forward: { t in
            let product = try t[0].matmul(t[1].transposed(0, 1))
            raw = product
            return try product / t[2]
        }, backward: { g, t, _ in
            let (a, b, tau) = (t[0], t[1], t[2])
            let gs = try g / tau
            let product = raw!
            return [a.isTracked ? try gs.matmul(b) : nil,
                    b.isTracked ? try gs.transposed(0, 1).matmul(a) : nil,
                    tau.isTracked ? try (g * product / (tau * tau)).scaled(-1).sum().reshaped(tau.shape) : nil]
        })
    }
}
