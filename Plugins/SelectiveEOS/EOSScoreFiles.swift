import CoreRuntime
import Foundation

/// The files Scoring EOS leaves in the run folder: the scores of every sample, and the kept samples
/// in LLaVA's conversation format (usable as training data for a later run).
public enum EOSScoreFiles {
    /// The header of `scores.csv`.
    public static let header = "id,S_pos,S_neg,S_pos_mean,S_neg_mean,kept"

    /// `scores.csv` text: one line per sample in data order. Numbers use the shortest decimal form
    /// that reads back to the same double; `kept` is 1 or 0. Ids are quoted when they need it.
    public static func csv(ids: [String], scores: [EOSScore], kept: [Bool]) throws -> String {
        guard ids.count == scores.count, kept.count == scores.count else {
            throw HalluError("scoring-eos: \(ids.count) ids, \(scores.count) scores and \(kept.count) decisions do not line up")
        }
        var lines = [header]
        for i in ids.indices {
            let s = scores[i]
            lines.append([csvField(ids[i]), "\(s.sPos)", "\(s.sNeg)", "\(s.sPosMean)", "\(s.sNegMean)", kept[i] ? "1" : "0"].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// RFC 4180 quoting: fields with a comma, quote or line break are quoted, quotes doubled.
    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Conversations as LLaVA's JSON list: `{"id", "image"?, "conversations": [{"from", "value"}]}`.
    public static func llavaRecords(_ conversations: [Conversation]) -> [[String: Any]] {
        conversations.map { c in
            var r: [String: Any] = ["id": c.id, "conversations": c.turns.map { ["from": $0.from, "value": $0.value] }]
            if let image = c.image { r["image"] = image }
            return r
        }
    }

    /// Writes `scores.csv` and the kept conversations (`filtered.json`) into `dir`, each atomically.
    /// Returns both URLs.
    @discardableResult
    public static func write(to dir: URL, conversations: [Conversation], scores: [EOSScore], kept: [Bool]) throws -> (scores: URL, filtered: URL) {
        let scoresURL = dir.appendingPathComponent("scores.csv")
        let filteredURL = dir.appendingPathComponent("filtered.json")
        try AtomicFile.write(csv(ids: conversations.map(\.id), scores: scores, kept: kept), to: scoresURL)
        let keptConvs = zip(conversations, kept).filter(\.1).map(\.0)
        try AtomicFile.writeJSON(llavaRecords(keptConvs), to: filteredURL)
        return (scoresURL, filteredURL)
    }
}
