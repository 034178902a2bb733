import CoreRuntime
import Foundation

/// `scoring-eos`: Scoring EOS Supervision ("Less is More" §4). Before training, the frozen model
/// scores every training conversation (`EOSScoring`: S_pos, S_neg and their per-token means), a
/// keep/drop rule removes the samples that most push the model to talk past what it sees, and the
/// run trains with plain SFT on what is kept.
///
/// The paper's exact rule is not in its code release, so the rule is configurable. Default: drop the
/// 20% of samples with the highest `S_neg - S_pos`. S_neg high means the model would have stopped at
/// places where the sample goes on: the sample describes more than the model can see (the overly
/// detailed data the paper blames). S_pos high means the sample stops where the model would have
/// gone on: it teaches timely stopping, which is what the paper wants to keep. The difference ranks
/// samples by their net push towards ending too late; S_neg alone (`score=s_neg`) also ranks long
/// faithful samples high, because every extra token adds a little to it.
///
/// Files in the run folder: `scores.csv` (`id,S_pos,S_neg,S_pos_mean,S_neg_mean,kept`, data order)
/// and `filtered.json` (the kept conversations in LLaVA's format).
public final class ScoringEOSMethod: Method {
    static let methodId = "scoring-eos"
    static let summaryText = "Scoring EOS Supervision (Less is More, ACL 2024): score data with the frozen model, drop samples that teach talking past the image, SFT on the rest"

    private var eosOption = -1
    private var kind = EOSScoreKind.sNegMinusSPos
    private var rule = EOSFilterRule.dropTopFraction(0.2)
    private var batchSize = 16
    private var summaryNumbers: [String: Double] = [:]

    public init() {}
    public var id: String { Self.methodId }
    public var summary: String { Self.summaryText }
    public var dataKinds: [DataKind] { [.sft] }
    /// The paper fine-tunes on the filtered data with QLoRA at lr 2e-5 for as many steps as the
    /// unfiltered run; on the world, 100 steps of 16 at the world's fine-tuning lr (docs/RESULTS.md).
    public var runDefaults: RunDefaults {
        RunDefaults(lr: 3e-4, steps: 100, batchSize: 16,
                    source: "Less is More: QLoRA at lr 2e-5 on the filtered data; on the world: 100 steps of 16 at 3e-4 (docs/RESULTS.md)")
    }
    public var options: [MethodOption] {
        [
            MethodOption("eos_id", "-1", "EOS token id; -1 = the tokenizer's EOS"),
            MethodOption("score", EOSScoreKind.sNegMinusSPos.rawValue,
                         "ranking score, higher = more harmful: \(EOSScoreKind.allCases.map(\.rawValue).joined(separator: ", "))"),
            MethodOption("rule", "drop_top_fraction", "drop_top_fraction (drop the highest-scoring drop_fraction) or threshold (keep score <= threshold)"),
            MethodOption("drop_fraction", "0.2", "share of samples dropped by drop_top_fraction, in [0, 1]"),
            MethodOption("threshold", "", "keep samples whose score is at most this (rule=threshold only)"),
            MethodOption("score_batch_size", "16", "conversations per forward pass while scoring"),
        ]
    }

    public func configure(_ values: [String: String]) throws {
        let o = OptionValues(method: id, values: values)
        eosOption = try parseEOSOption(o)
        kind = try EOSScoreKind.parse(o.string("score") ?? "")
        switch o.string("rule") ?? "" {
        case "drop_top_fraction":
            let f = try o.double("drop_fraction", atLeast: 0, atMost: 1)
            rule = .dropTopFraction(f)
        case "threshold":
            guard let t = o.string("threshold"), !t.isEmpty else { throw HalluError("\(id).threshold: rule=threshold needs a threshold value") }
            let tau = try o.double("threshold")
            guard !tau.isNaN else { throw HalluError("\(id).threshold: NaN is not a threshold") }
            rule = .threshold(tau)
        case let other:
            let hint = Suggest.nearest(other, in: ["drop_top_fraction", "threshold"]).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw HalluError("\(id).rule: unknown rule \"\(other)\"\(hint); known: drop_top_fraction, threshold")
        }
        batchSize = try o.int("score_batch_size", in: 1...65_536)
    }

    /// Scores with the model as it is now (before any training step), keeps what the rule keeps,
    /// and writes both files. Other sample kinds pass through unchanged.
    public func transformData(_ data: TrainingData, _ context: TrainContext) throws -> TrainingData {
        let convs = data.conversations
        guard !convs.isEmpty else { throw HalluError("scoring-eos: the training data has no conversations to score") }
        let eos = try resolveEOS(eosOption, context, method: id)
        context.log("scoring-eos: scoring \(convs.count) conversations (EOS \(eos), batches of \(batchSize))")
        let scores = try EOSScoring.score(convs, context: context, eosId: eos, batchSize: batchSize)
        let kept = try rule.keep(scores.map(kind.value))
        let files = try EOSScoreFiles.write(to: context.runDir, conversations: convs, scores: scores, kept: kept)
        let keptCount = kept.filter { $0 }.count
        summaryNumbers = ["scoring_eos/kept": Double(keptCount), "scoring_eos/dropped": Double(convs.count - keptCount)]
        context.log("scoring-eos: kept \(keptCount) of \(convs.count) by \(kind.rawValue) (\(files.scores.lastPathComponent), \(files.filtered.lastPathComponent))")
        guard keptCount > 0 else {
            throw HalluError("scoring-eos: the rule kept no conversation (scores are in \(files.scores.path)); lower drop_fraction or raise threshold")
        }
        var out = data
        out.conversations = zip(convs, kept).filter(\.1).map(\.0)
        return out
    }

    /// Plain SFT on the kept conversations (under the run's token objective).
    public func loss(_ batch: Batch, _ context: TrainContext) throws -> LossOutput {
        let (loss, tokens) = try context.lmLoss(context.sftInputs(batch.conversations))
        return LossOutput(loss: loss, metrics: ["tokens": Double(tokens)])
    }

    /// How many samples the filter kept and dropped.
    public func evaluate(_ context: TrainContext) throws -> [String: Double] { summaryNumbers }
}
