import Foundation

/// The SVG charts of the sweep report: bars with error bars, a scatter plot and overlaid lines.
/// Drawn as plain SVG text (no scripts), with round-number axis ticks; hovering a mark shows its
/// exact value through SVG `<title>`.
enum SweepChart {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
                          "#7f7f7f", "#bcbd22", "#393b79", "#ad494a"]
    static func colour(_ i: Int) -> String { palette[i % palette.count] }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Round-number ticks covering [lo, hi] (about `count` of them).
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        var lo = lo, hi = hi
        if hi - lo < 1e-12 { let pad = Swift.max(abs(hi) * 0.1, 1e-3); lo -= pad; hi += pad }
        let raw = (hi - lo) / Double(count)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2.0, 5.0, 10.0].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        let first = floor(lo / step) * step, last = ceil(hi / step) * step
        return stride(from: 0, through: Int(((last - first) / step).rounded()), by: 1).map { first + Double($0) * step }
    }

    static func tickLabel(_ v: Double, step: Double) -> String {
        let decimals = Swift.max(0, Int(ceil(-log10(step) - 1e-9)))
        let s = String(format: "%.\(Swift.min(decimals, 6))f", v)
        return s.hasPrefix("-") && Double(s) == 0 ? String(s.dropFirst()) : s
    }

    /// The frame of a chart: title, y grid with labels, x axis; returns the SVG and the y mapping.
    struct Frame {
        var width: Double, height: Double
        var left = 52.0, right = 12.0, top = 26.0, bottom = 30.0
        var yTicks: [Double]
        var xTicks: [Double] = []
        var y0: Double { yTicks.first! }
        var y1: Double { yTicks.last! }
        var x0 = 0.0, x1 = 1.0
        func py(_ y: Double) -> Double { height - bottom - (y - y0) / Swift.max(y1 - y0, 1e-12) * (height - top - bottom) }
        func px(_ x: Double) -> Double { left + (x - x0) / Swift.max(x1 - x0, 1e-12) * (width - left - right) }

        func open(title: String, xLabel: String? = nil) -> String {
            var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" class=\"chart\">"
            s += "<text x=\"\(f(left))\" y=\"16\" font-size=\"13\" font-weight=\"bold\">\(esc(title))</text>"
            let step = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
            for t in yTicks {
                s += "<line x1=\"\(f(left))\" y1=\"\(f(py(t)))\" x2=\"\(f(width - right))\" y2=\"\(f(py(t)))\" stroke=\"#e4e4e4\"/>"
                s += "<text x=\"\(f(left - 4))\" y=\"\(f(py(t) + 4))\" font-size=\"10\" text-anchor=\"end\" fill=\"#444\">\(tickLabel(t, step: step))</text>"
            }
            if !xTicks.isEmpty {
                let xs = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1
                for t in xTicks {
                    s += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top))\" x2=\"\(f(px(t)))\" y2=\"\(f(height - bottom))\" stroke=\"#f0f0f0\"/>"
                    s += "<text x=\"\(f(px(t)))\" y=\"\(f(height - bottom + 13))\" font-size=\"10\" text-anchor=\"middle\" fill=\"#444\">\(tickLabel(t, step: xs))</text>"
                }
            }
            s += "<line x1=\"\(f(left))\" y1=\"\(f(height - bottom))\" x2=\"\(f(width - right))\" y2=\"\(f(height - bottom))\" stroke=\"#888\"/>"
            s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(height - bottom))\" stroke=\"#888\"/>"
            if let xLabel { s += "<text x=\"\(f(width - right))\" y=\"\(f(height - 3))\" font-size=\"10\" text-anchor=\"end\" fill=\"#444\">\(esc(xLabel))</text>" }
            return s
        }
    }

    /// One bar per configuration (numbered as in the legend), with ±std error bars.
    static func bars(title: String, items: [(number: Int, colour: String, label: String, mean: Double?, std: Double?)],
                     decimals: Int, width: Double = 360, height: Double = 210) -> String {
        let vals = items.compactMap { i in i.mean.map { ($0, i.std ?? 0) } }
        guard !vals.isEmpty else { return "" }
        var lo = Swift.min(0, vals.map { $0.0 - $0.1 }.min()!), hi = Swift.max(0, vals.map { $0.0 + $0.1 }.max()!)
        if hi == lo { hi = lo + 1 }
        let t = ticks(lo, hi)
        lo = t.first!; hi = t.last!
        let frame = Frame(width: width, height: height, yTicks: t)
        var s = frame.open(title: title)
        let slot = (width - frame.left - frame.right) / Double(items.count)
        let bw = Swift.min(slot * 0.7, 46)
        for (k, it) in items.enumerated() {
            let cx = frame.left + slot * (Double(k) + 0.5)
            s += "<text x=\"\(f(cx))\" y=\"\(f(height - frame.bottom + 13))\" font-size=\"10\" text-anchor=\"middle\">\(it.number)</text>"
            guard let m = it.mean else { continue }
            let yTop = frame.py(Swift.max(m, 0)), yBot = frame.py(Swift.min(m, 0))
            let tip = "\(it.number). \(it.label): " + SweepResults.fixed(m, decimals) + (it.std.map { " ± " + SweepResults.fixed($0, decimals) } ?? "")
            s += "<rect x=\"\(f(cx - bw / 2))\" y=\"\(f(yTop))\" width=\"\(f(bw))\" height=\"\(f(Swift.max(yBot - yTop, 0.5)))\" fill=\"\(it.colour)\" fill-opacity=\"0.85\"><title>\(esc(tip))</title></rect>"
            if let sd = it.std, sd > 0 {
                let a = frame.py(m - sd), b = frame.py(m + sd)
                s += "<line x1=\"\(f(cx))\" y1=\"\(f(a))\" x2=\"\(f(cx))\" y2=\"\(f(b))\" stroke=\"#222\" stroke-width=\"1.3\"/>"
                s += "<line x1=\"\(f(cx - 6))\" y1=\"\(f(a))\" x2=\"\(f(cx + 6))\" y2=\"\(f(a))\" stroke=\"#222\" stroke-width=\"1.3\"/>"
                s += "<line x1=\"\(f(cx - 6))\" y1=\"\(f(b))\" x2=\"\(f(cx + 6))\" y2=\"\(f(b))\" stroke=\"#222\" stroke-width=\"1.3\"/>"
            }
            let labelY = m >= 0 ? frame.py(m + (it.std ?? 0)) - 3 : frame.py(m - (it.std ?? 0)) + 11
            s += "<text x=\"\(f(cx))\" y=\"\(f(labelY))\" font-size=\"9\" text-anchor=\"middle\" fill=\"#333\">\(SweepResults.fixed(m, decimals))</text>"
        }
        return s + "</svg>"
    }

    /// Points (one per cell) and larger rings (one per configuration mean).
    static func scatter(title: String, xLabel: String, yLabel: String,
                        points: [(colour: String, x: Double, y: Double, tip: String)],
                        means: [(colour: String, x: Double, y: Double, tip: String)],
                        width: Double = 545, height: Double = 320) -> String {
        let all = points + means
        guard !all.isEmpty else { return "" }
        var frame = Frame(width: width, height: height, yTicks: ticks(all.map(\.y).min()!, all.map(\.y).max()!))
        frame.bottom = 34
        frame.xTicks = ticks(all.map(\.x).min()!, all.map(\.x).max()!)
        frame.x0 = frame.xTicks.first!; frame.x1 = frame.xTicks.last!
        var s = frame.open(title: title, xLabel: xLabel)
        s += "<text x=\"\(f(frame.left + 4))\" y=\"\(f(frame.top + 10))\" font-size=\"10\" fill=\"#444\">\(esc(yLabel))</text>"
        for p in points {
            s += "<circle cx=\"\(f(frame.px(p.x)))\" cy=\"\(f(frame.py(p.y)))\" r=\"3.5\" fill=\"\(p.colour)\" fill-opacity=\"0.7\"><title>\(esc(p.tip))</title></circle>"
        }
        for m in means {
            s += "<circle cx=\"\(f(frame.px(m.x)))\" cy=\"\(f(frame.py(m.y)))\" r=\"8\" fill=\"none\" stroke=\"\(m.colour)\" stroke-width=\"2.5\"><title>\(esc(m.tip))</title></circle>"
        }
        return s + "</svg>"
    }

    /// Lines: thin ones per cell and a thick one per configuration (the mean over its seeds).
    static func lines(title: String, xLabel: String, thin: [(colour: String, points: [(Double, Double)])],
                      thick: [(colour: String, points: [(Double, Double)], tip: String)],
                      width: Double = 545, height: Double = 320) -> String {
        let pts = thin.flatMap(\.points) + thick.flatMap(\.points)
        guard !pts.isEmpty else { return "" }
        var frame = Frame(width: width, height: height, yTicks: ticks(pts.map(\.1).min()!, pts.map(\.1).max()!))
        frame.bottom = 34
        frame.xTicks = ticks(pts.map(\.0).min()!, pts.map(\.0).max()!)
        frame.x0 = frame.xTicks.first!; frame.x1 = frame.xTicks.last!
        var s = frame.open(title: title, xLabel: xLabel)
        func poly(_ p: [(Double, Double)]) -> String { p.map { "\(f(frame.px($0.0))),\(f(frame.py($0.1)))" }.joined(separator: " ") }
        for l in thin where !l.points.isEmpty {
            s += "<polyline fill=\"none\" stroke=\"\(l.colour)\" stroke-opacity=\"0.35\" stroke-width=\"1\" points=\"\(poly(l.points))\"/>"
        }
        for l in thick where !l.points.isEmpty {
            s += "<polyline fill=\"none\" stroke=\"\(l.colour)\" stroke-width=\"2.2\" points=\"\(poly(l.points))\"><title>\(esc(l.tip))</title></polyline>"
            if l.points.count == 1 {
                s += "<circle cx=\"\(f(frame.px(l.points[0].0)))\" cy=\"\(f(frame.py(l.points[0].1)))\" r=\"3\" fill=\"\(l.colour)\"/>"
            }
        }
        return s + "</svg>"
    }
}
