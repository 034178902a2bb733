import CoreRuntime
import Foundation

/// The attention rows OPERA reads, in the form its penalty uses them: one query's last-layer
/// attention, the maximum over heads, divided by the row's sum (taken in double precision), and the
/// part over the response scaled by `scale_factor`.
struct AttentionRow {
    /// Scaled values over the response positions `0..<local.count` (the query's own position last).
    var local: [Float]
    /// Attention on the image positions (divided by the row's sum, not scaled).
    var image: Float

    /// Row `query` of a readout whose keys are the prompt (`promptLength` positions, the image at
    /// `image`) followed by the response.
    init(_ a: AttentionReadout, query: Int, promptLength: Int, image: Range<Int>?, scale: Float) {
        var top = [Float](repeating: -.infinity, count: a.keys)
        for h in 0..<a.heads {
            for k in 0..<a.keys { top[k] = max(top[k], a[h, query, k]) }
        }
        let sum = Float(top.reduce(0.0) { $0 + Double($1) })
        let normalised = top.map { $0 / sum }
        local = normalised[promptLength...].map { scale * $0 }
        self.image = image.map { span in Float(span.reduce(0.0) { $0 + Double(normalised[$1]) }) } ?? 0
    }
}

/// The over-trust score of OPERA's beam search: with the local window's columns scaled by
/// `scale_factor`, column j of the lower-triangular window scores
///
///     s_j = 1e-7 * prod_{i >= j} w_ij          (kept in float16, as the code does)
///
/// and a candidate's penalty is max_j s_j, its location argmax_j s_j (the first on ties). `history`
/// holds the beam's rows (response position i, columns 0...i); the candidate's row closes the window.
enum OverTrust {
    /// Per column of the window without its last row: the product of the history rows' entries,
    /// multiplied in row order (as the code's product over the column).
    static func columnProducts(_ history: [[Float]]) -> [Float] {
        var prod = [Float](repeating: 1, count: history.count)
        for j in 0..<history.count {
            var p: Float = 1
            for i in j..<history.count { p *= history[i][j] }
            prod[j] = p
        }
        return prod
    }

    /// The candidate's penalty and location, given the history's column products.
    static func score(products: [Float], candidate row: [Float]) -> (penalty: Float, location: Int) {
        var best = -Float.infinity, at = 0
        for j in 0..<row.count {
            let p = j < products.count ? products[j] * row[j] : row[j]
            let s = Float(Float16(Float(1e-7) * p))
            if s > best { best = s; at = j }
        }
        return (best, at)
    }

    /// torch.mode: the most frequent value, the smallest among equally frequent ones.
    static func mode(_ values: [Int]) -> Int {
        var count: [Int: Int] = [:]
        for v in values { count[v, default: 0] += 1 }
        return count.max { a, b in a.value < b.value || (a.value == b.value && a.key > b.key) }!.key
    }
}
