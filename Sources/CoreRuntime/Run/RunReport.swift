import Foundation

/// The end of a run: a baseline-vs-method table for the terminal and a self-contained `report.html`
/// (metric table, training curves drawn as SVG, and a gallery of eval images with the generated
/// description, hallucinated object words marked, and the ground truth beside it).
public enum RunReport {
    /// Rows of (name, value, lower is better, decimals): every evaluator's headline numbers, then the
    /// methods' own numbers.
    static func rows(_ m: ModelMetrics, _ evaluators: [Evaluator]) -> [(String, Double, Bool, Int)] {
        var r = m.headline(evaluators).map { ($0.label, $0.value, $0.lowerIsBetter ?? false, $0.decimals) }
        for (k, v) in (m.extra ?? [:]).sorted(by: { $0.key < $1.key }) { r.append((k, v, false, 3)) }
        return r
    }

    /// The terminal table: baseline, trained, and the change.
    public static func table(_ s: RunSummary, evaluators: [Evaluator] = Evaluators.builtIn()) -> String {
        guard let t = s.trained else { return "trained \(s.method) for \(s.steps) steps (evaluation skipped)" }
        var out = "\n\(s.method) (seed \(s.seed), \(s.steps) steps, \(Int(s.seconds)) s)\n"
        let lines = Self.rows(t, evaluators)
        // Columns widen to fit the longest metric and the method's name; nothing is cut.
        let nameWidth = max(22, (lines.map(\.0.count).max() ?? 0) + 2), valueWidth = max(9, s.method.count)
        func right(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        out += "metric".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + right("baseline", 9) + "  "
            + right(s.method, valueWidth) + "  " + right("change", 8) + "\n"
        let base = s.baseline.map { Dictionary(Self.rows($0, evaluators).map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a }) } ?? [:]
        for (name, v, _, decimals) in lines {
            let b = base[name]
            out += name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                + (b.map { String(format: "%9.\(decimals)f", $0) } ?? right("-", 9))
                + "  " + String(format: "%\(valueWidth).\(decimals)f", v)
                + (b.map { String(format: "  %+8.3f", v - $0) } ?? "") + "\n"
        }
        for (who, m) in [("baseline", s.baseline), (s.method, s.trained)] {
            if let w = m?.emptyWarning { out += "warning (\(who)): \(w)\n" }
        }
        return out
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Writes `report.html` into the run folder.
    public static func write(summary: RunSummary, folder: RunFolder, dataDir: URL, evaluators: [Evaluator] = Evaluators.builtIn()) throws {
        var html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>hallu run: \(esc(summary.method))</title><style>"
        html += "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}"
        html += "td:first-child,th:first-child{text-align:left}.better{color:#070}.worse{color:#a00}.hal{background:#fbb;font-weight:bold}.card{display:inline-block;width:330px;vertical-align:top;margin:6px;padding:6px;border:1px solid #ccc;font-size:13px}"
        html += "img{image-rendering:pixelated;width:128px;height:128px;float:left;margin-right:6px}</style></head><body>"
        html += "<h1>\(esc(summary.method))</h1><p>seed \(summary.seed), \(summary.steps) steps, \(Int(summary.seconds)) s. Checkpoint: <code>\(esc(summary.checkpoint))</code></p>"
        if let t = summary.trained {
            html += "<h2>Metrics</h2><table><tr><th>metric</th><th>baseline</th><th>\(esc(summary.method))</th><th>change</th></tr>"
            let base = summary.baseline.map { Dictionary(rows($0, evaluators).map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a }) } ?? [:]
            for (name, v, lower, _) in rows(t, evaluators) {
                let b = base[name]
                let cls = b.map { (lower ? v < $0 : v > $0) ? "better" : (v == $0 ? "" : "worse") } ?? ""
                html += "<tr><td>\(esc(name))</td><td>\(b.map { String(format: "%.3f", $0) } ?? "-")</td><td>\(String(format: "%.3f", v))</td><td class=\"\(cls)\">\(b.map { String(format: "%+.3f", v - $0) } ?? "")</td></tr>"
            }
            html += "</table>"
        }
        html += "<h2>Training</h2>" + curves(folder.metrics)
        html += "<h2>Eval gallery</h2>" + (try gallery(folder: folder, dataDir: dataDir, count: 24))
        html += "</body></html>"
        try AtomicFile.write(html, to: folder.report)
    }

    /// Loss and learning-rate curves from metrics.jsonl as inline SVG.
    static func curves(_ metrics: URL) -> String {
        guard let lines = try? JSONFiles.readJSONLines(metrics.path), !lines.isEmpty else { return "<p>no training metrics</p>" }
        var series: [String: [(Double, Double)]] = [:]
        for (_, r) in lines {
            guard let step = (r["step"] as? NSNumber)?.doubleValue else { continue }
            for (k, v) in r where k != "step" { if let x = (v as? NSNumber)?.doubleValue, x.isFinite { series[k, default: []].append((step, x)) } }
        }
        let keys = ["loss"] + series.keys.filter { $0.hasPrefix("rewards/") || $0.hasSuffix("/loss") }.sorted()
        return keys.compactMap { k in series[k].map { Plot.line(title: k, points: $0) } }.joined()
    }

    /// Eval images with the generated description (hallucinated words marked) and the ground truth.
    static func gallery(folder: RunFolder, dataDir: URL, count: Int) throws -> String {
        let capFile = folder.eval.appendingPathComponent("chair_captions.jsonl")
        guard let caps = try? JSONFiles.readJSONLines(capFile.path) else { return "<p>no generations</p>" }
        guard let gt = try? CHAIRGroundTruth.load(path: dataDir.appendingPathComponent(SceneWorld.Files.chairGT).path) else { return "" }
        let ev = CHAIREvaluator(groundTruth: gt)
        var out = ""
        for (_, r) in caps.prefix(count) {
            guard let id = r["image_id"] as? String, let text = r["text"] as? String, let image = r["image"] as? String else { continue }
            let result = ev.evaluate(captions: [CHAIRCaption(imageId: id, text: text)]).captions.first
            var marked = esc(text)
            for h in Set(result?.hallucinated.map(\.word) ?? []) {
                marked = marked.replacingOccurrences(of: "\\b\(NSRegularExpression.escapedPattern(for: h))s?\\b", with: "<span class=\"hal\">$0</span>", options: [.regularExpression, .caseInsensitive])
            }
            var img = ""
            if let rgb = try? ImageFile.load(dataDir.appendingPathComponent(image).path), let png = try? PNGCodec.encode(rgb) {
                img = "<img src=\"data:image/png;base64,\(png.base64EncodedString())\">"
            }
            out += "<div class=\"card\">\(img)<b>\(esc(id))</b><br>\(marked)<br><small>ground truth: \(esc((result?.groundTruth ?? []).joined(separator: ", ")))</small></div>"
        }
        return out
    }
}

/// Minimal SVG charts drawn by hallu (no scripts, no network).
public enum Plot {
    /// A line chart of (x, y) points with axes and min/max labels.
    public static func line(title: String, points: [(Double, Double)], width: Int = 520, height: Int = 200, series: [(String, [(Double, Double)])] = []) -> String {
        let all = series.isEmpty ? [(title, points)] : series
        let xs = all.flatMap { $0.1.map(\.0) }, ys = all.flatMap { $0.1.map(\.1) }
        guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() else { return "" }
        let pad = 40.0, w = Double(width), h = Double(height)
        func px(_ x: Double) -> Double { pad + (x - x0) / max(x1 - x0, 1e-12) * (w - 2 * pad) }
        func pyy(_ y: Double) -> Double { h - pad - (y - y0) / max(y1 - y0, 1e-12) * (h - 2 * pad) }
        let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" style=\"margin:4px;border:1px solid #eee\">"
        svg += "<text x=\"\(Int(pad))\" y=\"16\" font-size=\"13\">\(RunReport.esc(title))</text>"
        svg += "<line x1=\"\(pad)\" y1=\"\(h - pad)\" x2=\"\(w - pad)\" y2=\"\(h - pad)\" stroke=\"#888\"/><line x1=\"\(pad)\" y1=\"\(pad)\" x2=\"\(pad)\" y2=\"\(h - pad)\" stroke=\"#888\"/>"
        svg += String(format: "<text x=\"2\" y=\"%.0f\" font-size=\"10\">%.3g</text><text x=\"2\" y=\"%.0f\" font-size=\"10\">%.3g</text>", pad + 4, y1, h - pad, y0)
        svg += String(format: "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">%.0f</text><text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">%.0f</text>", pad, h - pad + 14, x0, w - pad - 20, h - pad + 14, x1)
        for (i, (name, pts)) in all.enumerated() {
            let c = colours[i % colours.count]
            let path = pts.map { String(format: "%.1f,%.1f", px($0.0), pyy($0.1)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.5\" points=\"\(path)\"/>"
            if all.count > 1 { svg += "<text x=\"\(Int(w - pad) - 150)\" y=\"\(20 + 12 * i)\" font-size=\"11\" fill=\"\(c)\">\(RunReport.esc(name))</text>" }
        }
        return svg + "</svg>"
    }
}
