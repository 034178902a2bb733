import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What happened to one cell in this invocation of the sweep.
public struct SweepCellOutcome: Equatable {
    public enum Status: String { case done, skipped, failed }
    public var index: Int
    public var id: String
    public var status: Status
    /// Whether the cell continued an interrupted run (`--resume`).
    public var resumed: Bool
    public var exitStatus: Int32?
    public var signal: Int32?
    public var seconds: Double
    /// For failures: the last line of the cell's standard error.
    public var message: String
}

/// Runs the cells of a plan, each as its own `hallu run` process so that a crash in one cell
/// cannot take the sweep down. Finished cells (summary.json present) are skipped, started ones
/// continue with `--resume`, and failures are recorded in the cell folder (status.json, error.txt)
/// while the other cells go on.
public final class SweepRunner {
    public let plan: SweepPlan
    public let folder: SweepFolder
    /// The hallu executable the cells run (the sweep's own, `/proc/self/exe`).
    public let executable: URL
    /// Cells running at once.
    public var jobs = 1
    /// Compute threads of each cell, unless the sweep's config pins `threads`. Passed explicitly
    /// (`--threads`, `HALLU_THREADS`) so that results do not depend on `-j`.
    public var threadsPerCell = 1
    public var log: (String) -> Void = { print($0) }
    /// Lines of standard error copied into error.txt.
    public var errorLines = 40

    private let lock = NSLock()

    public init(plan: SweepPlan, folder: SweepFolder, executable: URL) {
        self.plan = plan; self.folder = folder; self.executable = executable
    }

    /// The thread count for `jobs` cells sharing `cores` cores.
    public static func threads(cores: Int, jobs: Int) -> Int { max(1, cores / max(jobs, 1)) }

    /// The threads a cell runs with.
    public func threads(for cell: SweepCell) -> Int { cell.config.threads ?? threadsPerCell }

    /// Runs the given cells (all by default) and returns what happened to each, in plan order.
    public func run(cells selection: [Int]? = nil) throws -> [SweepCellOutcome] {
        let chosen = try (selection ?? Array(plan.cells.indices)).map { i -> SweepCell in
            guard plan.cells.indices.contains(i) else {
                throw HalluError("--cell \(i): the sweep has cells 0...\(plan.cells.count - 1)")
            }
            return plan.cells[i]
        }
        let fm = FileManager.default
        for d in [folder.cells, folder.configs, folder.logs, folder.locks] { try fm.createDirectory(at: d, withIntermediateDirectories: true) }
        for c in chosen {
            try checkSavedConfig(c)
            try AtomicFile.write(try Self.configData(c.config), to: folder.config(c.id))
        }
        let pending = chosen.filter { !folder.cell($0.id).isFinished }
        if !pending.isEmpty { try SweepAssets.ensure(for: pending.map(\.config), log: log) }

        let queue = CellQueue(chosen.map(\.index))
        let total = chosen.count
        let group = DispatchGroup()
        for _ in 0..<max(1, min(jobs, chosen.count)) {
            group.enter()
            let t = Thread { [self] in
                defer { group.leave() }
                while let (i, n) = queue.next() {
                    queue.record(runCell(plan.cells[i], position: "[\(n)/\(total)]"))
                }
            }
            t.stackSize = 1 << 20
            t.start()
        }
        group.wait()
        return queue.outcomes(chosen.map(\.index))
    }

    func say(_ s: String) { lock.lock(); log(s); lock.unlock() }

    static func configData(_ c: RunConfig) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try enc.encode(c)
    }

    /// A cell folder run with another config (the sweep file changed since) must not be counted
    /// as a seed of this configuration.
    func checkSavedConfig(_ c: SweepCell) throws {
        let saved = folder.cell(c.id).config
        guard FileManager.default.fileExists(atPath: saved.path) else { return }
        var a = try RunConfig.load(saved.path), b = c.config
        a.name = nil; a.runsDir = RunConfig().runsDir; a.threads = nil
        b.name = nil; b.runsDir = RunConfig().runsDir; b.threads = nil
        guard a == b else {
            throw HalluError.file(saved.path, "cell \(c.id) was run with a different config than the sweep file now gives "
                + "(\(Self.differences(a, b).joined(separator: ", "))); use another --out or sweep name, or delete the cell folder")
        }
    }

    static func differences(_ a: RunConfig, _ b: RunConfig) -> [String] {
        let enc = JSONEncoder()
        guard let da = try? JSONSerialization.jsonObject(with: enc.encode(a)) as? [String: Any],
              let db = try? JSONSerialization.jsonObject(with: enc.encode(b)) as? [String: Any] else { return [] }
        return Set(da.keys).union(db.keys).sorted().filter { k in
            !NSDictionary(dictionary: [k: da[k] ?? NSNull()]).isEqual(to: [k: db[k] ?? NSNull()])
        }.map { k in "\(k): \(da[k].map { "\($0)" } ?? "unset") in the folder, \(db[k].map { "\($0)" } ?? "unset") now" }
    }

    /// Runs one cell to completion (or failure). Never throws: problems become a failed outcome.
    func runCell(_ c: SweepCell, position: String) -> SweepCellOutcome {
        let start = Date()
        var outcome = SweepCellOutcome(index: c.index, id: c.id, status: .skipped, resumed: false, exitStatus: nil, signal: nil, seconds: 0, message: "")
        let runFolder = folder.cell(c.id)
        let fm = FileManager.default
        // The lock is shared with the cell's process (it is its standard input), so a cell left
        // running by a killed sweep still holds it, and a rerun waits instead of racing it.
        let lockFd = open(folder.lock(c.id).path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        defer { if lockFd >= 0 { close(lockFd) } }
        if lockFd >= 0 && flock(lockFd, LOCK_EX | LOCK_NB) != 0 {
            say("\(position) \(c.id): still running in an earlier process; waiting for it")
            _ = flock(lockFd, LOCK_EX)
        }
        if runFolder.isFinished {
            say("\(position) \(c.id): finished earlier, skipped")
            return outcome
        }
        let resume = fm.fileExists(atPath: runFolder.config.path)
        outcome.resumed = resume
        let threads = threads(for: c)
        var args = ["run", "--config", folder.config(c.id).path, "--name", c.id, "--runs-dir", folder.cells.path,
                    "--threads", String(threads)]
        if resume { args.append("--resume") }
        say("\(position) \(c.id): \(resume ? "resuming" : "starting") (\(threads) thread\(threads == 1 ? "" : "s"))")

        let errStart = (try? fm.attributesOfItem(atPath: folder.stderr(c.id).path)[.size] as? NSNumber)?.uint64Value ?? 0
        do {
            let out = try Self.appendHandle(folder.stdout(c.id)), err = try Self.appendHandle(folder.stderr(c.id))
            defer { try? out.close(); try? err.close() }
            let header = "--- \(resume ? "resume" : "start") \(ISO8601DateFormatter().string(from: Date())): \(executable.path) \(args.joined(separator: " "))\n"
            try out.write(contentsOf: Data(header.utf8))
            let p = Process()
            p.executableURL = executable
            p.arguments = args
            var env = ProcessInfo.processInfo.environment
            env["HALLU_THREADS"] = String(threads)
            p.environment = env
            p.standardOutput = out
            p.standardError = err
            if lockFd >= 0 { p.standardInput = FileHandle(fileDescriptor: lockFd, closeOnDealloc: false) }
            let done = DispatchSemaphore(value: 0)
            p.terminationHandler = { _ in done.signal() }
            try p.run()
            done.wait()
            if p.terminationReason == .uncaughtSignal { outcome.signal = p.terminationStatus } else { outcome.exitStatus = p.terminationStatus }
        } catch {
            outcome.exitStatus = -1
            outcome.message = "could not start \(executable.path): \(error)"
        }
        outcome.seconds = Date().timeIntervalSince(start)
        if outcome.exitStatus == 0 && runFolder.isFinished {
            outcome.status = .done
            try? fm.removeItem(at: folder.error(c.id))
            writeStatus(c, outcome)
            say("\(position) \(c.id): done in \(String(format: "%.1f", outcome.seconds)) s")
            return outcome
        }
        outcome.status = .failed
        let tail = Self.tail(of: folder.stderr(c.id), from: errStart, lines: errorLines)
        if outcome.message.isEmpty {
            outcome.message = tail.split(separator: "\n").last.map(String.init)
                ?? (outcome.exitStatus == 0 ? "exited without writing summary.json" : "no message on standard error")
        }
        let how = outcome.signal.map { "killed by signal \($0)" } ?? "exit status \(outcome.exitStatus ?? -1)"
        let text = "cell \(c.id) failed: \(how) after \(String(format: "%.1f", outcome.seconds)) s\n"
            + "command: \(executable.path) \(args.joined(separator: " "))\n"
            + "last lines of standard error (all of it: \(folder.stderr(c.id).path)):\n\(tail.isEmpty ? outcome.message + "\n" : tail)"
        try? AtomicFile.write(text, to: folder.error(c.id))
        writeStatus(c, outcome)
        say("\(position) \(c.id): FAILED (\(how)): \(outcome.message)")
        return outcome
    }

    func writeStatus(_ c: SweepCell, _ o: SweepCellOutcome) {
        var s: [String: Any] = ["id": c.id, "index": c.index, "status": o.status.rawValue, "resumed": o.resumed,
                                "seconds": (o.seconds * 1000).rounded() / 1000]
        if let e = o.exitStatus { s["exit_status"] = Int(e) }
        if let g = o.signal { s["signal"] = Int(g) }
        if o.status == .failed { s["message"] = o.message }
        try? AtomicFile.writeJSON(s, to: folder.status(c.id))
    }

    static func appendHandle(_ url: URL) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else { throw HalluError.file(url.path, "cannot create log file") }
        }
        let h = try FileHandle(forWritingTo: url)
        try h.seekToEnd()
        return h
    }

    /// The last `lines` lines of a file from byte `offset` on.
    static func tail(of url: URL, from offset: UInt64, lines: Int) -> String {
        guard let h = try? FileHandle(forReadingFrom: url) else { return "" }
        defer { try? h.close() }
        try? h.seek(toOffset: offset)
        let data = (try? h.readToEnd()) ?? Data()
        let all = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let trimmed = all.last == "" ? Array(all.dropLast()) : Array(all)
        let kept = trimmed.suffix(lines)
        return kept.isEmpty ? "" : kept.joined(separator: "\n") + "\n"
    }
}

/// The cells left to start and the outcomes so far, shared by the worker threads.
final class CellQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [Int]
    private var started = 0
    private var done: [Int: SweepCellOutcome] = [:]

    init(_ cells: [Int]) { pending = cells }

    /// The next cell and its 1-based start number, or nil when all have started.
    func next() -> (Int, Int)? {
        lock.lock(); defer { lock.unlock() }
        guard !pending.isEmpty else { return nil }
        started += 1
        return (pending.removeFirst(), started)
    }

    func record(_ o: SweepCellOutcome) { lock.lock(); done[o.index] = o; lock.unlock() }

    func outcomes(_ order: [Int]) -> [SweepCellOutcome] {
        lock.lock(); defer { lock.unlock() }
        return order.compactMap { done[$0] }
    }
}
