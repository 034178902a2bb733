import Foundation

/// A metric the sweep tables report, read from a cell's summary.json.
public struct SweepMetric: Equatable {
    /// Column name in results.csv / results.json (e.g. `chair_i`, `pope_random_f1`).
    public var id: String
    /// Heading in results.md and the report.
    public var title: String
    /// Whether smaller is better (nil: neither).
    public var lowerIsBetter: Bool?
    /// Decimals in results.md and the report.
    public var decimals: Int
    /// Column group in the report's table ("CHAIR", "POPE random"; nil: none) and the heading
    /// under it.
    public var group: String? = nil
    public var short: String? = nil
}

/// Mean and spread of one metric over the finished seeds of a configuration.
public struct SweepStat: Equatable {
    public var mean: Double
    /// Sample standard deviation (n - 1 in the denominator); nil with fewer than two values.
    public var std: Double?
    public var n: Int

    /// Mean and sample standard deviation of `values`, summed in the given order.
    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        n = values.count
        // Equal values (e.g. a metric no seed changes) give exactly that value and a zero spread,
        // not the rounding residue of summing them.
        if values.allSatisfy({ $0 == values[0] }) {
            mean = values[0]
            std = n > 1 ? 0 : nil
            return
        }
        mean = values.reduce(0, +) / Double(n)
        if n > 1 {
            let m = mean
            std = (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot()
        } else {
            std = nil
        }
    }
}

/// One row of the sweep's table: a configuration and its metrics over seeds.
public struct SweepRow {
    public var configuration: SweepConfiguration
    /// Seeds of the cells that finished.
    public var seeds: [UInt64]
    public var planned: Int
    public var stats: [String: SweepStat]
}

/// The sweep's results, gathered from the cell folders (`hallu sweep report DIR` rebuilds them at
/// any time): per configuration, mean and standard deviation over seeds of every metric.
public struct SweepResults {
    public var plan: SweepPlan
    public var folder: SweepFolder
    public var metrics: [SweepMetric]
    public var rows: [SweepRow]
    /// Per cell (plan order): its state and, when finished, its metric values.
    public var cellStates: [SweepCellState]
    public var cellValues: [[String: Double]]

    /// The metric columns, in table order: the evaluators' headline numbers in the order the
    /// summaries give them (first seen first), then the final loss and the time.
    public static func metricList(_ headline: [MetricValue]) -> [SweepMetric] {
        var seen = Set<String>()
        var m: [SweepMetric] = []
        for v in headline where seen.insert(v.key).inserted {
            m.append(SweepMetric(id: v.key, title: v.title, lowerIsBetter: v.lowerIsBetter, decimals: v.decimals, group: v.group, short: v.short))
        }
        m += [SweepMetric(id: "final_loss", title: "final loss", lowerIsBetter: nil, decimals: 4),
              SweepMetric(id: "seconds", title: "seconds", lowerIsBetter: nil, decimals: 1)]
        return m
    }

    /// A finished cell's metric values, keyed by metric id.
    public static func values(of summary: RunSummary, evaluators: [Evaluator] = Evaluators.builtIn()) -> [String: Double] {
        var v: [String: Double] = ["seconds": summary.seconds]
        if let l = summary.finalLoss, l.isFinite { v["final_loss"] = l }
        for m in summary.trained?.headline(evaluators) ?? [] { v[m.key] = m.value }
        return v
    }

    /// Reads plan.json and every finished cell's summary.json. `evaluators` give plugin evaluators'
    /// reports their own headline rules (without them, every top-level number of a report counts).
    public static func collect(_ folder: SweepFolder, evaluators: [Evaluator] = Evaluators.builtIn()) throws -> SweepResults {
        let plan = try SweepPlan.read(from: folder.url)
        var states: [SweepCellState] = [], values: [[String: Double]] = []
        var headline: [MetricValue] = []
        for c in plan.cells {
            let state = folder.state(of: c)
            states.append(state)
            guard state == .done else { values.append([:]); continue }
            let s = try CheckpointJSON.read(RunSummary.self, from: folder.cell(c.id).summary.path)
            headline += s.trained?.headline(evaluators) ?? []
            values.append(Self.values(of: s, evaluators: evaluators))
        }
        let metrics = metricList(headline)
        var rows: [SweepRow] = []
        for conf in plan.configurations {
            let finished = conf.cells.filter { states[$0] == .done }
            var stats: [String: SweepStat] = [:]
            for m in metrics {
                if let s = SweepStat(finished.compactMap { values[$0][m.id] }) { stats[m.id] = s }
            }
            rows.append(SweepRow(configuration: conf, seeds: finished.map { plan.cells[$0].seed }, planned: conf.cells.count, stats: stats))
        }
        return SweepResults(plan: plan, folder: folder, metrics: metrics, rows: rows, cellStates: states, cellValues: values)
    }

    /// Writes results.md, results.csv, results.json and report.html.
    public func write() throws {
        try AtomicFile.write(markdown(), to: folder.resultsMarkdown)
        try AtomicFile.write(csv(), to: folder.resultsCSV)
        try AtomicFile.write(json(), to: folder.resultsJSON)
        try AtomicFile.write(SweepReport.html(self), to: folder.report)
    }

    // MARK: formats

    static func fixed(_ v: Double, _ decimals: Int) -> String {
        let s = String(format: "%.\(decimals)f", v)
        return s.hasPrefix("-") && Double(s) == 0 ? String(s.dropFirst()) : s
    }

    /// "mean ± std" (or the mean alone with one seed), "-" without values.
    public static func cellText(_ s: SweepStat?, _ m: SweepMetric) -> String {
        guard let s else { return "-" }
        return fixed(s.mean, m.decimals) + (s.std.map { " ± " + fixed($0, m.decimals) } ?? "")
    }

    /// The Markdown table: one row per configuration.
    public func markdown() -> String {
        var out = "# Sweep \(plan.name)\n\n"
        let done = cellStates.filter { $0 == .done }.count
        out += "\(done) of \(plan.cells.count) cells finished. Mean ± sample standard deviation over seeds (n = finished seeds).\n\n"
        let heads = ["configuration", "n"] + metrics.map(\.title)
        out += "| " + heads.joined(separator: " | ") + " |\n"
        out += "|" + heads.enumerated().map { $0.offset == 0 ? "---|" : "---:|" }.joined() + "\n"
        for r in rows {
            let cells = [r.configuration.label.replacingOccurrences(of: "|", with: "\\|"), "\(r.seeds.count)/\(r.planned)"]
                + metrics.map { Self.cellText(r.stats[$0.id], $0) }
            out += "| " + cells.joined(separator: " | ") + " |\n"
        }
        let failed = plan.cells.indices.filter { cellStates[$0] == .failed }
        if !failed.isEmpty {
            out += "\nFailed cells (see cells/<id>/error.txt): " + failed.map { "`\(plan.cells[$0].id)`" }.joined(separator: ", ") + "\n"
        }
        return out
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    /// The CSV table: configuration, its assignments (one column per sweep axis), then
    /// `<metric>_mean,<metric>_std` per metric with six decimals (std empty below two seeds).
    public func csv() -> String {
        let axes = plan.axes.filter { $0 != "method" }
        var head = ["configuration", "label", "method"] + axes.map { "set:" + $0 } + ["n", "planned", "seeds"]
        for m in metrics { head += ["\(m.id)_mean", "\(m.id)_std"] }
        var out = head.map(Self.csvField).joined(separator: ",") + "\n"
        for r in rows {
            let given = Dictionary(r.configuration.assignments.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            var f = [r.configuration.key, r.configuration.label, r.configuration.method] + axes.map { given[$0] ?? "" }
            f += [String(r.seeds.count), String(r.planned), r.seeds.map(String.init).joined(separator: " ")]
            for m in metrics {
                let s = r.stats[m.id]
                f += [s.map { Self.fixed($0.mean, 6) } ?? "", s?.std.map { Self.fixed($0, 6) } ?? ""]
            }
            out += f.map(Self.csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// results.json: metrics, configurations with their statistics, and every cell's state and values.
    public func json() -> String {
        func num(_ v: Double?) -> OrderedJSON { v.map { $0.isFinite ? .number($0) : .null } ?? .null }
        let metricList: [OrderedJSON] = metrics.map {
            .object([("id", .string($0.id)), ("title", .string($0.title)),
                     ("lower_is_better", $0.lowerIsBetter.map { .bool($0) } ?? .null)])
        }
        let confs: [OrderedJSON] = rows.map { r in
            var stats: [(String, OrderedJSON)] = []
            for m in metrics {
                guard let s = r.stats[m.id] else { continue }
                stats.append((m.id, .object([("mean", num(s.mean)), ("std", num(s.std)), ("n", .int(s.n))])))
            }
            return .object([("key", .string(r.configuration.key)), ("label", .string(r.configuration.label)),
                            ("method", .string(r.configuration.method)),
                            ("assignments", .object(r.configuration.assignments.map { ($0.key, .string($0.value)) })),
                            ("n", .int(r.seeds.count)), ("planned", .int(r.planned)),
                            ("seeds", .array(r.seeds.map { .int(Int(truncatingIfNeeded: $0)) })),
                            ("cells", .array(r.configuration.cells.map { .string(plan.cells[$0].id) })),
                            ("metrics", .object(stats))])
        }
        let cells: [OrderedJSON] = plan.cells.map { c in
            let v = cellValues[c.index]
            return .object([("index", .int(c.index)), ("id", .string(c.id)), ("configuration", .string(c.key)),
                            ("seed", .int(Int(truncatingIfNeeded: c.seed))), ("state", .string(cellStates[c.index].rawValue)),
                            ("metrics", .object(metrics.compactMap { m in v[m.id].map { (m.id, num($0)) } }))])
        }
        return OrderedJSON.object([("name", .string(plan.name)), ("metrics", .array(metricList)),
                                   ("configurations", .array(confs)), ("cells", .array(cells))]).pretty() + "\n"
    }
}
