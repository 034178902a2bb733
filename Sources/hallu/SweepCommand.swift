import CoreRuntime
import Foundation

/// `hallu sweep FILE`: run a grid of configurations and seeds, each cell its own `hallu run`
/// process, then aggregate over seeds. `hallu sweep report DIR` re-aggregates a sweep folder.
struct SweepCommand: Command {
    let name = "sweep"
    let summary = "run ablation sweeps (grids of methods, options and seeds) and aggregate them"
    let usage = "hallu sweep SWEEP.json [-j N] [--out DIR] [--threads N] [--emit slurm [--time T]] [--cell K]\n       hallu sweep report DIR"
    var flags: [Flag] {
        [
            Flag(name: "j", value: "N", help: "cells run in parallel, each with cores/N threads", defaultText: "1"),
            Flag(name: "out", value: "DIR", help: "the sweep folder goes to DIR/<sweep name>", defaultText: "sweeps"),
            Flag(name: "threads", value: "N", help: "compute threads per cell (a \"threads\" key in the sweep's base wins)", defaultText: "max(1, cores / N)"),
            Flag(name: "emit", value: "slurm", help: "write DIR/<name>/sweep.slurm (a job array, one task per cell) instead of running"),
            Flag(name: "time", value: "T", help: "Slurm time limit per cell with --emit slurm", defaultText: "04:00:00"),
            Flag(name: "cell", value: "K", help: "run only cell K (0-based, as in plan.json); aggregate later with `hallu sweep report`"),
        ]
    }

    func run(_ args: Arguments) throws -> Int32 {
        guard let first = args.positionals.first else { throw HalluError("hallu sweep: give a sweep file, or `report DIR`. See `hallu sweep --help`.") }
        if first == "report" && !FileManager.default.fileExists(atPath: first) {
            guard args.positionals.count == 2 else { throw HalluError("usage: hallu sweep report DIR") }
            return try report(URL(fileURLWithPath: args.positionals[1]))
        }
        guard args.positionals.count == 1 else { throw HalluError("hallu sweep: expected one sweep file, got \(args.positionals.joined(separator: " "))") }
        let file = URL(fileURLWithPath: first)
        let spec = try SweepSpec.load(file.path)
        let registry = PluginRegistry()
        try registry.discover()
        let plan = try SweepPlan.expand(spec, path: file.path) { config in
            for p in config.plugins { try registry.load(p) }
            return try config.methodIds.map { try registry.make($0) }
        }
        try plan.validate(registry: registry, path: file.path)
        let out = URL(fileURLWithPath: args.string("out") ?? "sweeps")
        let folder = SweepFolder(out.appendingPathComponent(plan.name))
        try plan.write(to: folder.url)

        let jobs = try args.int("j") ?? 1
        guard jobs >= 1 else { throw HalluError("-j: expected at least 1") }
        let threads = try args.int("threads") ?? SweepRunner.threads(cores: ProcessInfo.processInfo.activeProcessorCount, jobs: jobs)
        guard threads >= 1 else { throw HalluError("--threads: expected at least 1") }
        let exe = Self.executable()

        if let emit = args.string("emit") {
            guard emit == "slurm" else { throw HalluError("--emit: only \"slurm\" is supported, got \"\(emit)\"") }
            let script = try SweepSlurm.script(plan: plan, sweepFile: file.standardizedFileURL, out: out.standardizedFileURL, folder: folder,
                                               executable: exe, cpusPerTask: plan.cells.first?.config.threads ?? threads,
                                               time: args.string("time") ?? "04:00:00")
            try FileManager.default.createDirectory(at: folder.logs, withIntermediateDirectories: true)
            try AtomicFile.write(script, to: folder.slurm)
            print("wrote \(folder.slurm.path) (\(plan.cells.count) array tasks). Submit with `sbatch \(folder.slurm.path)`, then `hallu sweep report \(folder.url.path)`.")
            return 0
        }

        let runner = SweepRunner(plan: plan, folder: folder, executable: exe)
        runner.jobs = jobs
        runner.threadsPerCell = threads
        var selection: [Int]? = nil
        if let k = try args.int("cell") { selection = [k] }
        print("sweep \(plan.name): \(plan.cells.count) cells in \(plan.configurations.count) configurations -> \(folder.url.path)")
        let outcomes = try runner.run(cells: selection)
        if selection != nil {
            let o = outcomes[0]
            print("cell \(o.index) \(o.id): \(o.status.rawValue)\(o.status == .failed ? " (see \(folder.error(o.id).path))" : "")")
            return o.status == .failed ? 1 : 0
        }
        let results = try SweepResults.collect(folder, evaluators: registry.evaluators)
        try results.write()
        print("\n" + Self.statusTable(outcomes, folder: folder))
        print(results.markdown())
        print("tables: \(folder.resultsMarkdown.path), \(folder.resultsCSV.path), \(folder.resultsJSON.path)\nreport: \(folder.report.path)")
        return outcomes.contains { $0.status == .failed } ? 1 : 0
    }

    func report(_ dir: URL) throws -> Int32 {
        let registry = PluginRegistry()
        try registry.discover()
        let results = try SweepResults.collect(SweepFolder(dir), evaluators: registry.evaluators)
        try results.write()
        print(results.markdown())
        print("wrote results.md, results.csv, results.json and report.html in \(dir.path)")
        return 0
    }

    /// The path of this executable, which the cells run.
    static func executable() -> URL {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return URL(fileURLWithPath: p) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    }

    /// What happened to each cell in this invocation; failures listed with their error files.
    static func statusTable(_ outcomes: [SweepCellOutcome], folder: SweepFolder) -> String {
        let width = min(max(outcomes.map(\.id.count).max() ?? 4, 4), 70)
        var s = "cell  " + "id".padding(toLength: width, withPad: " ", startingAt: 0) + "  status                 seconds\n"
        for o in outcomes {
            var status = o.status == .skipped ? "finished earlier" : o.status.rawValue
            if o.status == .done && o.resumed { status = "done (resumed)" }
            if o.status == .failed { status = o.signal.map { "FAILED (signal \($0))" } ?? "FAILED (exit \(o.exitStatus ?? -1))" }
            let secs = o.status == .skipped ? "-" : String(format: "%.1f", o.seconds)
            s += String(o.index).padding(toLength: 6, withPad: " ", startingAt: 0) + o.id.padding(toLength: width, withPad: " ", startingAt: 0)
                + "  " + status.padding(toLength: 21, withPad: " ", startingAt: 0) + String(repeating: " ", count: max(0, 9 - secs.count)) + secs + "\n"
        }
        let failed = outcomes.filter { $0.status == .failed }
        if !failed.isEmpty {
            s += "\n\(failed.count) cell\(failed.count == 1 ? "" : "s") failed:\n"
            for o in failed { s += "  \(o.id): \(o.message)\n    \(folder.error(o.id).path)\n" }
            s += "Rerun the same command to retry them (finished cells are kept).\n"
        }
        return s
    }
}
