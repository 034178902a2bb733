import Foundation

/// `hallu bench e2e`: the default job, `hallu run --method M` (the CLI names the method), timed end to end in child
/// processes: once with an empty cache (world, baseline, method, evaluation) and once more with the
/// baseline cached. Each figure is set against the target the project holds itself to (there is no
/// PyTorch counterpart of the whole job); peak RSS is the child's own (`summary.json`).
enum EndToEndBench {
    /// One timed job: its label and the wall-time target in seconds.
    struct Case { var name: String; var label: String; var target: Double }

    static let cases = [Case(name: "cold", label: "fresh cache: world, baseline, method, eval", target: 360),
                        Case(name: "warm", label: "baseline cached: method, eval", target: 120)]

    /// Runs both cases of `method` with `executable` (the hallu binary). `quick` uses the tiny preset and a few
    /// steps (a smoke test of the harness, not a measurement).
    static func run(executable: String, method: String, quick: Bool, log: (String) -> Void) throws -> [BenchResult] {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("hallu-bench-e2e-\(getpid())")
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: root) }
        let runs = root.appendingPathComponent("runs")
        var args = ["run", "--method", method, "--runs-dir", runs.path]
        if quick { args += ["--preset", "tiny", "--steps", "5", "--eval-images", "10"] }
        var env = ProcessInfo.processInfo.environment
        env["HALLU_CACHE"] = root.appendingPathComponent("cache").path
        var out: [BenchResult] = []
        for c in cases {
            log("e2e bench: hallu \((args + ["--name", c.name]).joined(separator: " ")) (\(c.label))")
            let logFile = root.appendingPathComponent("\(c.name).log")
            let start = Date()
            try runChild(executable, args + ["--name", c.name], environment: env, log: logFile)
            let seconds = Date().timeIntervalSince(start)
            let summary = try? JSONFiles.readJSON(runs.appendingPathComponent(c.name).appendingPathComponent("summary.json").path) as? [String: Any]
            let peak = (summary?["peak_rss_mb"] as? NSNumber)?.doubleValue ?? 0
            out.append(BenchResult(name: "hallu run --method \(method), \(c.label)\(quick ? " (quick: tiny preset)" : "")", unit: "s",
                                   hallu: seconds, reference: c.target, referenceName: "target (s)",
                                   ratio: c.target / max(seconds, 1e-9), peakRssMB: peak))
        }
        return out
    }

    /// Runs the child to completion with its output in `log`; throws with the log's tail on failure.
    static func runChild(_ executable: String, _ args: [String], environment: [String: String], log: URL) throws {
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.environment = environment
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            let tail = text.split(separator: "\n").suffix(5).joined(separator: "\n")
            throw HalluError("e2e bench: hallu \(args.joined(separator: " ")) exited with status \(p.terminationStatus):\n\(tail)")
        }
    }
}
