import Foundation

/// The sweep's `report.html`: one self-contained page (inline CSS and SVG, no scripts, no
/// network) with the results table, a bar chart per metric with ±std error bars, CHAIRi against
/// description length, the training loss of every cell overlaid per configuration, and the cells'
/// states.
public enum SweepReport {
    static let css = """
    body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1160px}
    h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
    table{border-collapse:collapse;font-size:12.5px}td,th{padding:3px 6px;vertical-align:top;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}
    th{background:#f6f6f6;font-weight:600}td.l,th.l{text-align:left;white-space:normal;min-width:190px}th.grp{text-align:center;border-bottom:1px solid #bbb}.sd{color:#777;font-size:11px}.best{font-weight:bold;color:#075e07}
    .sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
    .charts svg{margin:4px 6px 4px 0;border:1px solid #eee;background:#fff}.muted{color:#666;font-size:12.5px}
    .failed{color:#a00;font-weight:600}.interrupted,.pending{color:#8a6d00}
    """

    /// The page for a sweep's results.
    public static func html(_ r: SweepResults) -> String {
        let e = SweepChart.esc
        let done = r.cellStates.filter { $0 == .done }.count
        var h = "<!doctype html><html><head><meta charset=\"utf-8\"><title>hallu sweep: \(e(r.plan.name))</title><style>\(css)</style></head><body>"
        h += "<h1>Sweep \(e(r.plan.name))</h1>"
        h += "<p class=\"muted\">\(r.rows.count) configurations, \(r.plan.cells.count) cells, \(done) finished"
        let failed = r.cellStates.filter { $0 == .failed }.count
        if failed > 0 { h += ", <span class=\"failed\">\(failed) failed</span>" }
        h += ". Values are mean ± sample standard deviation over seeds; n = finished seeds / planned.</p>"
        h += "<h2>Results</h2>" + table(r)
        h += "<h2>Hallucination against length, and training</h2><div class=\"charts\">" + scatter(r) + curves(r) + "</div>"
        h += "<p class=\"muted\">Left: CHAIRi against words per description; small dots are cells (one per seed), rings are configuration means. "
        h += "Right: training loss per step; thin lines are cells, thick lines the mean over a configuration's seeds.</p>"
        h += "<h2>Metrics</h2><div class=\"charts\">"
        for m in r.metrics {
            let items = r.rows.enumerated().map { i, row in
                (number: i + 1, colour: SweepChart.colour(i), label: row.configuration.label, mean: row.stats[m.id]?.mean, std: row.stats[m.id]?.std)
            }
            let arrow = m.lowerIsBetter.map { $0 ? " (lower is better)" : " (higher is better)" } ?? ""
            h += SweepChart.bars(title: m.title + arrow, items: items, decimals: m.decimals)
        }
        h += "</div><p class=\"muted\">Bars: mean over seeds, numbered as in the table; whiskers: ± one sample standard deviation.</p>"
        h += "<h2>Cells</h2>" + cellTable(r)
        return h + "</body></html>\n"
    }

    static func legendCell(_ i: Int, _ label: String) -> String {
        "<span class=\"sw\" style=\"background:\(SweepChart.colour(i))\"></span>\(i + 1). \(SweepChart.esc(label))"
    }

    /// The results table (metrics grouped under CHAIR and each POPE split; the spread under each
    /// mean); the best mean of each metric with a direction is in bold.
    static func table(_ r: SweepResults) -> String {
        var groups: [(name: String?, count: Int)] = []
        for m in r.metrics {
            if let last = groups.last, last.name != nil, last.name == m.group { groups[groups.count - 1].count += 1 } else { groups.append((m.group, 1)) }
        }
        var h = "<table><tr><th class=\"l\" rowspan=\"2\">configuration</th><th rowspan=\"2\">n</th>"
        var i = 0
        for g in groups {
            if let name = g.name {
                h += "<th colspan=\"\(g.count)\" class=\"grp\">\(SweepChart.esc(name))</th>"
            } else {
                h += "<th rowspan=\"2\">\(SweepChart.esc(r.metrics[i].title))</th>"
            }
            i += g.count
        }
        h += "</tr><tr>"
        for m in r.metrics where m.group != nil { h += "<th>\(SweepChart.esc(m.short ?? m.title))</th>" }
        h += "</tr>"
        var best: [String: Double] = [:]
        for m in r.metrics {
            guard let lower = m.lowerIsBetter else { continue }
            let means = r.rows.compactMap { $0.stats[m.id]?.mean }
            if means.count > 1 { best[m.id] = lower ? means.min() : means.max() }
        }
        for (i, row) in r.rows.enumerated() {
            h += "<tr><td class=\"l\">\(legendCell(i, row.configuration.label))</td><td>\(row.seeds.count)/\(row.planned)</td>"
            for m in r.metrics {
                guard let s = row.stats[m.id] else { h += "<td>-</td>"; continue }
                let mean = SweepResults.fixed(s.mean, m.decimals)
                let isBest = best[m.id].map { SweepResults.fixed($0, m.decimals) == mean } ?? false
                h += "<td\(isBest ? " class=\"best\"" : "")>\(mean)"
                if let sd = s.std { h += "<br><span class=\"sd\">±\(SweepResults.fixed(sd, m.decimals))</span>" }
                h += "</td>"
            }
            h += "</tr>"
        }
        return h + "</table>"
    }

    static func scatter(_ r: SweepResults) -> String {
        var points: [(colour: String, x: Double, y: Double, tip: String)] = []
        var means: [(colour: String, x: Double, y: Double, tip: String)] = []
        for (i, row) in r.rows.enumerated() {
            let colour = SweepChart.colour(i)
            for c in row.configuration.cells {
                let v = r.cellValues[c]
                guard let x = v["chair_len"], let y = v["chair_i"] else { continue }
                points.append((colour, x, y, "\(r.plan.cells[c].id): len \(SweepResults.fixed(x, 1)), CHAIRi \(SweepResults.fixed(y, 3))"))
            }
            if let x = row.stats["chair_len"]?.mean, let y = row.stats["chair_i"]?.mean {
                means.append((colour, x, y, "\(i + 1). \(row.configuration.label): len \(SweepResults.fixed(x, 1)), CHAIRi \(SweepResults.fixed(y, 3))"))
            }
        }
        guard !points.isEmpty else { return "<p class=\"muted\">no evaluated cells yet</p>" }
        return SweepChart.scatter(title: "CHAIRi vs words per description", xLabel: "words per description (len)", yLabel: "CHAIRi",
                                  points: points, means: means)
    }

    /// A cell's loss per step; a resumed run may log a step twice, and its last record wins.
    static func lossCurve(_ url: URL) -> [(Double, Double)] {
        guard let lines = try? JSONFiles.readJSONLines(url.path) else { return [] }
        var byStep: [Int: Double] = [:]
        for (_, rec) in lines {
            guard let step = (rec["step"] as? NSNumber)?.intValue, let loss = (rec["loss"] as? NSNumber)?.doubleValue, loss.isFinite else { continue }
            byStep[step] = loss
        }
        return byStep.keys.sorted().map { (Double($0), byStep[$0]!) }
    }

    static func curves(_ r: SweepResults) -> String {
        var thin: [(colour: String, points: [(Double, Double)])] = []
        var thick: [(colour: String, points: [(Double, Double)], tip: String)] = []
        for (i, row) in r.rows.enumerated() {
            let colour = SweepChart.colour(i)
            let cellCurves = row.configuration.cells.map { lossCurve(r.folder.cell(r.plan.cells[$0].id).metrics) }.filter { !$0.isEmpty }
            guard !cellCurves.isEmpty else { continue }
            for c in cellCurves { thin.append((colour, c)) }
            // The mean over seeds at the steps every seed logged.
            let maps = cellCurves.map { Dictionary($0.map { ($0.0, $0.1) }, uniquingKeysWith: { $1 }) }
            let steps = cellCurves[0].map(\.0).filter { s in maps.allSatisfy { $0[s] != nil } }
            let mean = steps.map { s in (s, maps.reduce(0) { $0 + $1[s]! } / Double(maps.count)) }
            thick.append((colour, mean, "\(i + 1). \(row.configuration.label)"))
        }
        guard !thin.isEmpty else { return "<p class=\"muted\">no training metrics yet</p>" }
        // Colours follow the table's numbering, which serves as the legend.
        return SweepChart.lines(title: "training loss per optimiser step", xLabel: "step", thin: thin, thick: thick)
    }

    static func cellTable(_ r: SweepResults) -> String {
        let number = Dictionary(r.rows.enumerated().flatMap { i, row in row.configuration.cells.map { ($0, i) } }, uniquingKeysWith: { a, _ in a })
        var h = "<table><tr><th>#</th><th class=\"l\">cell</th><th>configuration</th><th>seed</th><th class=\"l\">state</th><th>final loss</th><th>seconds</th></tr>"
        for c in r.plan.cells {
            let st = r.cellStates[c.index], v = r.cellValues[c.index]
            var state = st.rawValue
            if st == .failed {
                let msg = (try? JSONFiles.readJSON(r.folder.status(c.id).path) as? [String: Any])?["message"] as? String
                state += msg.map { ": " + $0 } ?? ""
            }
            h += "<tr><td>\(c.index)</td><td class=\"l\"><code>\(SweepChart.esc(c.id))</code></td><td>\((number[c.index] ?? 0) + 1)</td><td>\(c.seed)</td>"
            h += "<td class=\"l \(st.rawValue)\">\(SweepChart.esc(state))</td>"
            h += "<td>\(v["final_loss"].map { SweepResults.fixed($0, 4) } ?? "-")</td><td>\(v["seconds"].map { SweepResults.fixed($0, 1) } ?? "-")</td></tr>"
        }
        return h + "</table>"
    }
}
