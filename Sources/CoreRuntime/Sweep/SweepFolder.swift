import Foundation

/// The layout of a sweep folder (`<out>/<sweep name>/`):
///
///     plan.json            the expanded plan (written first)
///     configs/<cell>.json  the run config each cell is started with (`hallu run --config`)
///     cells/<cell>/        an ordinary run folder per cell, plus status.json (and error.txt on failure)
///     logs/<cell>.out.log, logs/<cell>.err.log   the cell's standard output and error, every attempt
///     locks/<cell>.lock    held while the cell runs (by the sweep and by the cell's process)
///     results.md, results.csv, results.json, report.html, sweep.slurm
public struct SweepFolder {
    public let url: URL
    public init(_ url: URL) { self.url = url }

    public var plan: URL { url.appendingPathComponent(SweepPlan.fileName) }
    public var cells: URL { url.appendingPathComponent("cells") }
    public var configs: URL { url.appendingPathComponent("configs") }
    public var logs: URL { url.appendingPathComponent("logs") }
    public var locks: URL { url.appendingPathComponent("locks") }
    public var resultsMarkdown: URL { url.appendingPathComponent("results.md") }
    public var resultsCSV: URL { url.appendingPathComponent("results.csv") }
    public var resultsJSON: URL { url.appendingPathComponent("results.json") }
    public var report: URL { url.appendingPathComponent("report.html") }
    public var slurm: URL { url.appendingPathComponent("sweep.slurm") }

    public func cell(_ id: String) -> RunFolder { RunFolder(cells.appendingPathComponent(id)) }
    public func config(_ id: String) -> URL { configs.appendingPathComponent("\(id).json") }
    public func stdout(_ id: String) -> URL { logs.appendingPathComponent("\(id).out.log") }
    public func stderr(_ id: String) -> URL { logs.appendingPathComponent("\(id).err.log") }
    public func lock(_ id: String) -> URL { locks.appendingPathComponent("\(id).lock") }
    public func status(_ id: String) -> URL { cells.appendingPathComponent(id).appendingPathComponent("status.json") }
    public func error(_ id: String) -> URL { cells.appendingPathComponent(id).appendingPathComponent("error.txt") }

    /// Where a cell stands, from its files alone.
    public func state(of cell: SweepCell) -> SweepCellState {
        let fm = FileManager.default
        if self.cell(cell.id).isFinished { return .done }
        if let s = try? JSONFiles.readJSON(status(cell.id).path) as? [String: Any], s["status"] as? String == "failed" { return .failed }
        if fm.fileExists(atPath: self.cell(cell.id).url.path) { return .interrupted }
        return .pending
    }
}

/// Where a cell stands: finished (summary.json written), failed (status.json says so), started but
/// not finished (killed, or still running elsewhere), or not started.
public enum SweepCellState: String {
    case done, failed, interrupted, pending
}
