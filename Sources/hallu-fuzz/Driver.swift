import CoreRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Counts per surface.
struct Tally: Codable {
    var cases = 0, ok = 0, errors = 0, unclear = 0, signals = 0, hangs = 0, skipped = 0
    var examples: [String] = []

    mutating func add(_ label: String, _ message: String, index: Int) {
        switch label {
        case "ok": ok += 1
        case "error": errors += 1
        case "unclear": unclear += 1
        case "signal": signals += 1
        case "hang": hangs += 1
        default: skipped += 1; return
        }
        cases += 1
        if ["unclear", "signal", "hang"].contains(label) && examples.count < 8 { examples.append("#\(index) \(label): \(message)") }
        if label == "error" && errorExamples.count < 4 { errorExamples.append(message) }
    }
    /// A few of the clear errors, to read what users see.
    var errorExamples: [String] = []
}

/// `hallu-fuzz run`: drives `jobs` worker processes over cases 0..<cases, restarting a worker after
/// a crash or a hang (a case running past `timeout` seconds is killed and counted as a hang), and
/// saves every case that crashed, hung or gave an unclear error.
final class Driver {
    let seed: UInt64, cases: Int, jobs: Int, timeout: Double, surfaces: [String]
    let fixtures: URL?, save: URL?, scratch: URL
    let lock = NSLock()
    var tallies: [String: Tally] = [:]
    var failures: [(index: Int, surface: String, label: String, message: String)] = []
    var done = 0
    let start = Date()

    init(seed: UInt64, cases: Int, jobs: Int, timeout: Double, surfaces: [String], fixtures: URL?, save: URL?, scratch: URL) {
        self.seed = seed; self.cases = cases; self.jobs = jobs; self.timeout = timeout; self.surfaces = surfaces
        self.fixtures = fixtures; self.save = save; self.scratch = scratch
    }

    func record(_ index: Int, _ surface: String, _ label: String, _ message: String) {
        lock.lock(); defer { lock.unlock() }
        tallies[surface, default: Tally()].add(label, message, index: index)
        if label != "skip" { done += 1 }
        if ["unclear", "signal", "hang"].contains(label) { failures.append((index, surface, label, message)) }
        if done % 2000 == 0 && done > 0 {
            let rate = Double(done) / max(Date().timeIntervalSince(start), 1e-9)
            FileHandle.standardError.write(Data(String(format: "  %d/%d cases (%.0f/s)\n", done, cases, rate).utf8))
        }
    }

    func run() throws {
        var finished = 0
        let cond = NSCondition()
        for j in 0..<jobs {
            let t = Thread {
                self.job(j)
                cond.lock(); finished += 1; cond.signal(); cond.unlock()
            }
            t.stackSize = 1 << 22
            t.start()
        }
        cond.lock()
        while finished < jobs { cond.wait() }
        cond.unlock()
    }

    /// Runs the cases of job `j` (indices j, j + jobs, ...), restarting its worker when it dies.
    func job(_ j: Int) {
        var next = j
        while next < cases {
            next = runWorker(from: next, job: j)
        }
    }

    /// One worker process from case `from`; returns the next index to start from.
    func runWorker(from: Int, job: Int) -> Int {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0]
            : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0])
        let p = Process()
        p.executableURL = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map { URL(fileURLWithPath: $0) } ?? exe
        var args = ["worker", "--seed", String(seed), "--from", String(from), "--to", String(cases), "--step", String(jobs),
                    "--scratch", scratch.appendingPathComponent("job\(job)").path, "--surfaces", surfaces.joined(separator: ",")]
        if let fixtures { args += ["--fixtures", fixtures.path] }
        if let h = halluExecutable { args += ["--hallu", h.path] }
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            FileHandle.standardError.write(Data("hallu-fuzz: cannot start a worker: \(error)\n".utf8))
            exit(2)
        }
        let reader = LineReader(pipe.fileHandleForReading)
        var current: (index: Int, surface: String, since: Date)? = nil
        var next = from
        var ready = false
        let startupDeadline = Date().addingTimeInterval(300)
        while true {
            let line = reader.next(wait: 0.5)
            if let line {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
                switch parts.first {
                case "READY": ready = true
                case "S" where parts.count >= 3: current = (Int(parts[1]) ?? next, parts[2], Date())
                case "R" where parts.count >= 3:
                    let i = Int(parts[1]) ?? next
                    record(i, current?.surface ?? "?", parts[2], parts.count > 3 ? parts[3] : "")
                    current = nil
                    next = i + jobs
                case "DONE":
                    p.waitUntilExit()
                    return cases
                default: break
                }
                continue
            }
            if reader.ended {
                p.waitUntilExit()
                let how = p.terminationReason == .uncaughtSignal ? "signal \(p.terminationStatus)" : "exit \(p.terminationStatus)"
                if let c = current {
                    record(c.index, c.surface, "signal", "worker died (\(how)) in case \(c.index)")
                    saveCase(c.index, c.surface, "signal: worker died (\(how))")
                    return c.index + jobs
                }
                if !ready {
                    FileHandle.standardError.write(Data("hallu-fuzz: a worker ended (\(how)) before it was ready\n".utf8))
                    exit(2)
                }
                // It died making case `next` (the fuzzer's own code, before hallu read anything): a
                // failure of the run, and the case is skipped so that the run goes on.
                FileHandle.standardError.write(Data("hallu-fuzz: a worker ended (\(how)) while making case \(next)\n".utf8))
                record(next, "fuzzer", "signal", "the fuzzer itself died (\(how)) while making case \(next)")
                return next + jobs
            }
            if let c = current, Date().timeIntervalSince(c.since) > timeout {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                record(c.index, c.surface, "hang", "case \(c.index) ran past \(Int(timeout)) s")
                saveCase(c.index, c.surface, "hang: past \(Int(timeout)) s")
                return c.index + jobs
            }
            if !ready && Date() > startupDeadline {
                kill(p.processIdentifier, SIGKILL)
                FileHandle.standardError.write(Data("hallu-fuzz: a worker did not start in 300 s\n".utf8))
                exit(2)
            }
        }
    }

    /// Writes the case's inputs (made again from the seed and index) to the save folder.
    func saveCase(_ index: Int, _ surface: String, _ why: String) {
        guard let save else { return }
        lock.lock(); defer { lock.unlock() }
        do {
            let seeds = try seedsForSaving()
            let all = Surfaces.all + [Flags.surface]
            let chosen = all.filter { surfaces.contains($0.name) }
            let dir = save.appendingPathComponent(surface).appendingPathComponent("\(seed)-\(index)")
            guard makeCase(seeds, seed: seed, index: index, surfaces: chosen, dir: dir) != nil else { return }
            try Corpus.portable(dir)
            try AtomicFile.write(why + "\n", to: dir.appendingPathComponent("outcome.txt"))
        } catch {
            FileHandle.standardError.write(Data("hallu-fuzz: could not save case \(index): \(error)\n".utf8))
        }
    }

    private var savedSeeds: Seeds? = nil
    private func seedsForSaving() throws -> Seeds {
        if let s = savedSeeds { return s }
        let s = try Seeds(root: scratch.appendingPathComponent("driver-seeds"), fixtures: fixtures)
        savedSeeds = s
        return s
    }

    /// Saves the cases with unclear errors (those did not end the worker).
    func saveUnclear() {
        let list = failures.filter { $0.label == "unclear" }
        for f in list.prefix(50) { saveCase(f.index, f.surface, "unclear: \(f.message)") }
    }

    func report() -> (text: String, json: [String: Any], failed: Bool) {
        let seconds = Date().timeIntervalSince(start)
        var total = Tally()
        var rows = "surface        cases      ok   error unclear signal   hang\n"
        for name in tallies.keys.sorted() {
            let t = tallies[name]!
            rows += name.padding(toLength: 12, withPad: " ", startingAt: 0)
                + [t.cases, t.ok, t.errors, t.unclear, t.signals, t.hangs].map { String(format: "%8d", $0) }.joined() + "\n"
            total.cases += t.cases; total.ok += t.ok; total.errors += t.errors; total.unclear += t.unclear
            total.signals += t.signals; total.hangs += t.hangs
        }
        rows += "total       " + [total.cases, total.ok, total.errors, total.unclear, total.signals, total.hangs].map { String(format: "%8d", $0) }.joined() + "\n"
        rows += String(format: "%.0f s, %.0f cases/s, seed %llu, %d jobs, timeout %.0f s\n", seconds, Double(total.cases) / max(seconds, 1e-9), seed, jobs, timeout)
        for name in tallies.keys.sorted() { for e in tallies[name]!.examples { rows += "  \(name) \(e)\n" } }
        var json: [String: Any] = ["seed": seed, "cases": total.cases, "ok": total.ok, "errors": total.errors, "unclear": total.unclear,
                                   "signals": total.signals, "hangs": total.hangs, "seconds": seconds, "jobs": jobs, "timeout": timeout]
        json["surfaces"] = tallies.mapValues { ["cases": $0.cases, "ok": $0.ok, "errors": $0.errors, "unclear": $0.unclear,
                                                "signals": $0.signals, "hangs": $0.hangs, "examples": $0.examples, "error_examples": $0.errorExamples] as [String: Any] }
        return (rows, json, total.signals + total.hangs + total.unclear > 0)
    }
}

/// Lines from a pipe, read on a background thread, with a timed wait.
final class LineReader {
    private let cond = NSCondition()
    private var lines: [String] = []
    private var endedFlag = false
    var ended: Bool { cond.lock(); defer { cond.unlock() }; return endedFlag }

    init(_ handle: FileHandle) {
        let t = Thread { [weak self] in
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let nl = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...nl)
                    self?.push(line)
                }
            }
            self?.finish()
        }
        t.start()
    }

    private func push(_ l: String) { cond.lock(); lines.append(l); cond.signal(); cond.unlock() }
    private func finish() { cond.lock(); endedFlag = true; cond.signal(); cond.unlock() }

    /// The next line, or nil after `wait` seconds (or at the end; check `ended`).
    func next(wait: TimeInterval) -> String? {
        cond.lock(); defer { cond.unlock() }
        let deadline = Date().addingTimeInterval(wait)
        while lines.isEmpty && !endedFlag {
            if !cond.wait(until: deadline) { break }
        }
        if !lines.isEmpty { return lines.removeFirst() }
        return nil
    }
}
