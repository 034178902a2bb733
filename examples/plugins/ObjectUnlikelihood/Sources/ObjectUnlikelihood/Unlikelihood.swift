import CoreRuntime
import Foundation

extension Tensor {
    /// Token-level unlikelihood (Welleck et al., "Neural Text Generation with Unlikelihood Training",
    /// ICLR 2020): for each row r of `[N, V]` logits and its negative tokens S_r, the loss
    ///
    ///     p = softmax(z_r),   q_r = sum_{k in S_r} p_k,   L_r = -log(1 - q_r)
    ///
    /// which is 0 when the model gives the negatives no probability and grows without bound as it
    /// gives them all of it. Returns `[N]` (0 for a row without negatives). The gradient is
    ///
    ///     dL_r / dz_k = p_k (1[k in S_r] - q_r) / (1 - q_r)
    ///
    /// A custom op (`Tensor.custom`) rather than a chain of core ops: the chain would keep a softmax,
    /// a gather and a log in the graph; this keeps only the logits and recomputes the softmax.
    public static func unlikelihood(_ logits: Tensor, negatives: [[Int]]) throws -> Tensor {
        guard logits.rank == 2 else { throw HalluError("unlikelihood: logits must be [N, V], got \(logits.shape)") }
        let (rows, vocab) = (logits.shape[0], logits.shape[1])
        guard negatives.count == rows else {
            throw HalluError("unlikelihood: \(negatives.count) lists of negatives for \(rows) rows")
        }
        for (r, list) in negatives.enumerated() {
            if let bad = list.first(where: { $0 < 0 || $0 >= vocab }) {
                throw HalluError("unlikelihood: row \(r): negative token \(bad) is outside the vocabulary (0..<\(vocab))")
            }
        }
        // Each row's negatives once: a token listed twice must not count twice in q.
        let sets = negatives.map { Array(Set($0)).sorted() }
        return try Tensor.custom("unlikelihood", inputs: [logits], forward: { inputs in
            let p = inputs[0].softmax()
            var out = [Float](repeating: 0, count: rows)
            for r in 0..<rows where !sets[r].isEmpty {
                out[r] = -Foundation.log(remaining(p, r, vocab, sets[r]))
            }
            return Tensor(out)
        }, backward: { g, inputs, _ in
            let p = inputs[0].softmax()
            let grad = Tensor.zeros([rows, vocab])
            for r in 0..<rows where !sets[r].isEmpty {
                let rest = remaining(p, r, vocab, sets[r])
                let q = 1 - rest
                let scale = g.data[r] / rest
                let pr = p.data + r * vocab, gr = grad.data + r * vocab
                for k in 0..<vocab { gr[k] = -scale * pr[k] * q }
                for k in sets[r] { gr[k] += scale * pr[k] }
            }
            return [grad]
        })
    }

    /// 1 - q_r, kept away from 0 so that the loss stays finite when the model is sure of a negative.
    private static func remaining(_ p: Tensor, _ r: Int, _ vocab: Int, _ negatives: [Int]) -> Float {
        var q: Double = 0
        for k in negatives { q += Double(p.data[r * vocab + k]) }
        return Float(Swift.max(1 - q, 1e-6))
    }
}
