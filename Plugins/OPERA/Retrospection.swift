import Foundation

/// One sample's bookkeeping for OPERA: the attention rows of its beams (a tree: each generated
/// token's row points to its parent's), the over-trust locations of every step, the choices made
/// at every step, and the retrospection counters, as `opera_beam_search` keeps them.
struct Retrospection {
    /// The code's window: the history it keeps and the positions it can go back to.
    static let window = 512

    struct Node {
        var parent: Int?
        var row: [Float]
    }

    let promptLength: Int
    let image: Range<Int>?
    var nodes: [Node] = []
    /// Per step (generated length): each beam's newest attention row (nil before any token).
    var rows: [[Int?]] = []
    /// Per step: each beam's over-trust location (the mode over its candidates).
    var locations: [[Int]] = []
    /// Per step: the (beam, token) pairs chosen there, as recorded by the next step.
    var choices: [Int: [(beam: Int, token: Int)]] = [:]
    /// Per position: the (beam, token) pairs forbidden when going back there.
    var rejected = [[(beam: Int, token: Int)]](repeating: [], count: window)
    /// Per position: how many times the search went back there.
    var times = [Int](repeating: 0, count: window)
    /// The pairs to forbid on the retried step, once a rollback is asked for.
    var pending: [(beam: Int, token: Int)]? = nil

    init(promptLength: Int, image: Range<Int>?) {
        self.promptLength = promptLength; self.image = image
    }

    /// The first step: no generated token, no row yet.
    mutating func start(beams: Int) {
        if rows.isEmpty { rows.append(Array(repeating: nil, count: beams)) }
    }

    /// Records beam `beam`'s newest row at step `t`, continuing `parentBeam`'s row at step t-1.
    mutating func add(step t: Int, beam: Int, beams: Int, parentBeam: Int?, row: [Float]) {
        while rows.count <= t { rows.append(Array(repeating: nil, count: beams)) }
        let parent = parentBeam.flatMap { t > 0 ? rows[t - 1][$0] : nil }
        nodes.append(Node(parent: parent, row: row))
        rows[t][beam] = nodes.count - 1
    }

    /// Beam `beam`'s response rows at step `t`, oldest first.
    func history(step t: Int, beam: Int) -> [[Float]] {
        var out: [[Float]] = []
        var n = t < rows.count ? rows[t][beam] : nil
        while let i = n { out.append(nodes[i].row); n = nodes[i].parent }
        return out.reversed()
    }

    /// The retrospection rule after step `t`'s locations were recorded: when every beam's history
    /// holds the most common location (a mode over beams) more than `threshold` times and it is at
    /// least 10, go back to the position after it (one earlier once that position was gone back to
    /// `limit` times; not at all when that one was too), forbidding there what was chosen before.
    /// Returns the generated length to restore, or nil.
    mutating func rollback(step t: Int, threshold: Int, limit: Int) -> Int? {
        let loc = OverTrust.mode(locations[t])
        let beams = locations[t].count
        let repeated = (0..<beams).allSatisfy { b in locations.reduce(0) { $0 + ($1[b] == loc ? 1 : 0) } > threshold }
        guard repeated, loc >= 10 else { return nil }
        var pos = loc + 1
        guard pos < Self.window - 1 else { return nil }
        if times[pos] >= limit {
            pos -= 1
            guard times[pos] < limit else { return nil }
        }
        times[pos] += 1
        let cur = t + 1                                    // the window's width with the candidate
        if cur - pos > Self.window + 1 { pos = max(1, cur - Self.window - 1) }
        // The code restores the state one step before the current one when the position is not
        // behind it, and clears rejection lists counted from the end of its window.
        let target = min(pos, t - 1)
        for j in 0..<max(0, cur - pos - 2) { rejected[Self.window - 1 - j] = [] }
        rejected[pos + 1] = []
        rejected[pos] += choices[target] ?? []
        pending = rejected[pos]
        locations.removeLast(locations.count - target - 1)
        if rows.count > target + 1 { rows.removeLast(rows.count - target - 1) }
        return target
    }
}
