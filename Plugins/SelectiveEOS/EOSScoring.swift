import CoreRuntime
import Foundation

/// How strongly one training sample supervises the EOS decision, measured with a frozen model
/// (Scoring EOS Supervision, "Less is More" §4; the repository's `llava_llama_filter.py`).
public struct EOSScore: Equatable {
    /// Positive EOS supervision: `-sum log P[EOS]` over positions whose target is EOS. High when the
    /// sample stops where the model would have gone on (it teaches the model to stop).
    public var sPos: Double
    /// Negative EOS supervision: `-sum log max(1 - P[EOS], 1e-5)` over supervised non-EOS positions.
    /// High when the sample goes on where the model would have stopped (it teaches the model to
    /// keep talking past what it sees).
    public var sNeg: Double
    /// Number of EOS-target positions.
    public var eosPositions: Int
    /// Number of supervised non-EOS positions.
    public var otherPositions: Int

    public init(sPos: Double, sNeg: Double, eosPositions: Int, otherPositions: Int) {
        self.sPos = sPos; self.sNeg = sNeg; self.eosPositions = eosPositions; self.otherPositions = otherPositions
    }

    /// `sPos` per EOS position (0 without EOS positions).
    public var sPosMean: Double { eosPositions > 0 ? sPos / Double(eosPositions) : 0 }
    /// `sNeg` per supervised non-EOS position (0 without such positions).
    public var sNegMean: Double { otherPositions > 0 ? sNeg / Double(otherPositions) : 0 }
}

/// Computes `EOSScore`s from logits, and for conversations with a model.
public enum EOSScoring {
    /// The floor on `1 - P[EOS]` (as in the reference code), so that a position where the model is
    /// certain to stop costs at most `-log(1e-5)` = 11.5 nats instead of infinity.
    public static let floor = 1e-5

    /// Scores from supervised logits `[N, V]`, their targets `[N]` (`ignoreIndex` rows are skipped)
    /// and the sample each row belongs to (`samples[r]` in `0..<sampleCount`). Computed in double
    /// precision from a stable log-softmax.
    public static func scores(logits: Tensor, targets: [Int], samples: [Int], sampleCount: Int, eosId: Int) throws -> [EOSScore] {
        guard logits.rank == 2 else { throw HalluError("scoring-eos: logits must be [N, V], got \(logits.shape)") }
        let (n, v) = (logits.shape[0], logits.shape[1])
        guard targets.count == n, samples.count == n else {
            throw HalluError("scoring-eos: \(targets.count) targets and \(samples.count) sample indices for logits \(logits.shape)")
        }
        guard eosId >= 0 && eosId < v else { throw HalluError("scoring-eos: EOS id \(eosId) is outside the vocabulary (\(v))") }
        var out = [EOSScore](repeating: EOSScore(sPos: 0, sNeg: 0, eosPositions: 0, otherPositions: 0), count: sampleCount)
        for r in 0..<n where targets[r] != Tensor.ignoreIndex {
            let s = samples[r]
            guard s >= 0 && s < sampleCount else { throw HalluError("scoring-eos: row \(r) names sample \(s) of \(sampleCount)") }
            let logPEOS = logProbability(logits.data + r * v, count: v, column: eosId)
            if logPEOS.isNaN { out[s].sNeg = .nan; continue }          // reported with the sample's id by the caller
            if targets[r] == eosId {
                out[s].sPos -= logPEOS                                    // -log P[EOS]
                out[s].eosPositions += 1
            } else {
                let notEOS = -Foundation.expm1(logPEOS)                   // 1 - P[EOS], accurate near P = 0
                out[s].sNeg -= Foundation.log(Swift.max(notEOS, floor))  // -log max(1 - P[EOS], 1e-5)
                out[s].otherPositions += 1
            }
        }
        return out
    }

    /// `log softmax(x)[column]` of one row, in double precision.
    static func logProbability(_ x: UnsafeMutablePointer<Float>, count: Int, column: Int) -> Double {
        var m = -Double.infinity
        for j in 0..<count { m = Swift.max(m, Double(x[j])) }
        var s = 0.0
        for j in 0..<count { s += Foundation.exp(Double(x[j]) - m) }
        return Double(x[column]) - m - Foundation.log(s)
    }

    /// Scores every conversation with the context's model, frozen (no graph, dropout off), in
    /// batches of `batchSize`. Padding does not change a sample's score: each sample's rows are its
    /// own. Throws naming the sample when a score is not finite (a broken model or checkpoint).
    public static func score(_ conversations: [Conversation], context: TrainContext, eosId: Int, batchSize: Int) throws -> [EOSScore] {
        guard batchSize > 0 else { throw HalluError("scoring-eos: score batch size must be positive, got \(batchSize)") }
        let model = context.model
        let wasTraining = model.training
        model.train(false)
        defer { model.train(wasTraining) }
        var out: [EOSScore] = []
        out.reserveCapacity(conversations.count)
        var start = 0
        while start < conversations.count {
            let chunk = Array(conversations[start..<Swift.min(start + batchSize, conversations.count)])
            let chunkScores = try withNoGrad { () -> [EOSScore] in
                let (logits, targets, layout) = try model.supervisedLogits(context.sftInputs(chunk))
                let rows = LlavaModel.shiftedTargets(layout).rows
                return try scores(logits: logits, targets: targets, samples: rows.map { $0 / layout.length },
                                  sampleCount: chunk.count, eosId: eosId)
            }
            for (c, s) in zip(chunk, chunkScores) where !(s.sPos.isFinite && s.sNeg.isFinite) {
                throw HalluError("scoring-eos: sample \(c.id) scored S_pos=\(s.sPos), S_neg=\(s.sNeg); the model's logits are not finite")
            }
            out += chunkScores
            start += chunk.count
        }
        return out
    }
}
