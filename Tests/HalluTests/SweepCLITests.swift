import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `hallu sweep` end to end: the built executable runs tiny cells on a small world.
@Suite(.serialized) struct SweepCLITests {
    struct Setup { let work: URL; let file: URL; let env: [String: String] }

    /// A sweep file over the fixture's world and base model.
    func setup(_ tag: String, grid: String, seeds: String = "[0, 1]", list: String = "[]") throws -> Setup {
        let fx = try SweepFixture.shared.get()
        let work = TestPaths.tempDir("sweep-\(tag)")
        let file = work.appendingPathComponent("\(tag).json")
        try """
        {"name": "\(tag)",
         "base": {"preset": "tiny", "steps": 3, "batch_size": 4, "eval_images": 2, "eval_max_new_tokens": 8,
                  "base": "\(fx.base.path)", "data": "\(fx.data.path)"},
         "grid": \(grid),
         "list": \(list),
         "seeds": \(seeds)}
        """.write(to: file, atomically: true, encoding: .utf8)
        return Setup(work: work, file: file, env: ["HALLU_CACHE": work.appendingPathComponent("cache").path])
    }

    func summaries(_ cells: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: cells.path)) ?? []).filter {
            FileManager.default.fileExists(atPath: cells.appendingPathComponent("\($0)/summary.json").path)
        }.sorted()
    }

    /// Processes whose command line holds `arg` (the cells of one sweep folder).
    func processes(withArgument arg: String) -> [pid_t] {
        let me = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.filter { pid in
            guard pid != me, let d = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return d.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == arg }
        }
    }

    /// CSV rows split into fields (quoted fields may hold commas).
    func csvRows(_ text: String) -> [[String]] {
        text.split(separator: "\n").map { line in
            var fields: [String] = [], cur = "", quoted = false
            let it = Array(line)
            var i = 0
            while i < it.count {
                let c = it[i]
                if quoted {
                    if c == "\"" { if i + 1 < it.count && it[i + 1] == "\"" { cur.append("\""); i += 1 } else { quoted = false } } else { cur.append(c) }
                } else if c == "\"" { quoted = true } else if c == "," { fields.append(cur); cur = "" } else { cur.append(c) }
                i += 1
            }
            fields.append(cur)
            return fields
        }
    }

    /// results.csv without its wall-clock columns, which no two runs share.
    func withoutTimes(_ csv: String) -> [[String]] {
        let rows = csvRows(csv)
        let drop = Set(rows[0].indices.filter { rows[0][$0].hasPrefix("seconds_") })
        #expect(drop.count == 2)
        return rows.map { r in r.indices.filter { !drop.contains($0) }.map { r[$0] } }
    }

    func attempts(_ log: URL) -> [String] {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.hasPrefix("--- ") }.map(String.init)
    }

    @Test func killedSweepResumesWithoutRecomputingAndMatchesAnUninterruptedOne() throws {
        let s = try setup("ab", grid: #"{"method": ["sft", "selective-eos"], "lr": [1e-4, 3e-4]}"#)
        func args(_ out: String) -> [String] { ["sweep", s.file.path, "-j", "2", "--threads", "1", "--out", s.work.appendingPathComponent(out).path] }

        let whole = try SweepFixture.run(args("A"), cwd: s.work, env: s.env, logDir: s.work, tag: "A")
        #expect(whole.status == 0, "\(whole.out)\n\(whole.err)")
        let folderA = SweepFolder(s.work.appendingPathComponent("A/ab"))
        #expect(summaries(folderA.cells).count == 8)

        // Interrupt the second sweep once three cells have finished: the sweep and its running cells die at once.
        let folderB = SweepFolder(s.work.appendingPathComponent("B/ab"))
        let p = try SweepFixture.start(args("B"), cwd: s.work, env: s.env, logDir: s.work, tag: "B1")
        let deadline = Date().addingTimeInterval(600)
        func inProgress() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: folderB.cells.path)) ?? []).count - summaries(folderB.cells).count }
        while p.isRunning && (summaries(folderB.cells).count < 3 || inProgress() < 1) && Date() < deadline { usleep(100_000) }
        #expect(p.isRunning, "the sweep ended before it could be interrupted")
        kill(p.processIdentifier, SIGKILL)
        for pid in processes(withArgument: folderB.cells.path) { kill(pid, SIGKILL) }
        p.waitUntilExit()
        while !processes(withArgument: folderB.cells.path).isEmpty && Date() < deadline { usleep(50_000) }

        let finished = summaries(folderB.cells)
        let started = ((try? FileManager.default.contentsOfDirectory(atPath: folderB.cells.path)) ?? []).sorted()
        let interrupted = started.filter { !finished.contains($0) }
        #expect(finished.count >= 3 && finished.count < 8)
        #expect(!interrupted.isEmpty, "no cell was cut off mid-run")
        let plan = try SweepPlan.read(from: folderB.url)
        #expect(plan.cells.count == 8)
        #expect(!FileManager.default.fileExists(atPath: folderB.resultsCSV.path))
        var mtimes: [String: Date] = [:]
        for id in finished { mtimes[id] = try FileManager.default.attributesOfItem(atPath: folderB.cell(id).summary.path)[.modificationDate] as? Date }

        let rerun = try SweepFixture.run(args("B"), cwd: s.work, env: s.env, logDir: s.work, tag: "B2")
        #expect(rerun.status == 0, "\(rerun.out)\n\(rerun.err)")
        #expect(summaries(folderB.cells).count == 8)
        for id in finished {
            // Not recomputed: summary untouched, and the cell's log shows a single start.
            let now = try FileManager.default.attributesOfItem(atPath: folderB.cell(id).summary.path)[.modificationDate] as? Date
            #expect(now == mtimes[id], "\(id) was rewritten")
            #expect(attempts(folderB.stdout(id)).count == 1, "\(id) ran more than once")
            #expect(rerun.out.contains("\(id): finished earlier, skipped"))
        }
        for id in interrupted {
            let runs = attempts(folderB.stdout(id))
            #expect(runs.count == 2 && runs[1].hasPrefix("--- resume"), "\(id): \(runs)")
            let status = try JSONFiles.readJSON(folderB.status(id).path) as? [String: Any]
            #expect(status?["status"] as? String == "done" && status?["resumed"] as? Bool == true)
        }
        #expect(rerun.out.contains("finished earlier"))

        // Same numbers as the uninterrupted sweep, to the last printed digit.
        let csvA = try String(contentsOf: folderA.resultsCSV, encoding: .utf8), csvB = try String(contentsOf: folderB.resultsCSV, encoding: .utf8)
        #expect(withoutTimes(csvA) == withoutTimes(csvB))
        #expect(withoutTimes(csvA).count == 5)
        #expect(csvRows(csvA)[1][1] == "sft, lr=0.0001" && csvRows(csvA)[4][1] == "selective-eos, lr=0.0003")
        #expect(csvRows(csvA)[0][3...5] == ["set:lr", "n", "planned"])
        #expect(csvRows(csvA).dropFirst().allSatisfy { $0[4] == "2" && $0[5] == "2" })
        #expect(try String(contentsOf: folderB.resultsMarkdown, encoding: .utf8).contains("8 of 8 cells finished."))
        #expect(FileManager.default.fileExists(atPath: folderB.report.path))

        // The report command rebuilds identical tables from the cell folders.
        let csvBefore = try Data(contentsOf: folderB.resultsCSV), jsonBefore = try Data(contentsOf: folderB.resultsJSON)
        try FileManager.default.removeItem(at: folderB.resultsCSV)
        let report = try SweepFixture.run(["sweep", "report", folderB.url.path], cwd: s.work, env: s.env, logDir: s.work, tag: "R")
        #expect(report.status == 0, "\(report.err)")
        #expect(try Data(contentsOf: folderB.resultsCSV) == csvBefore)
        #expect(try Data(contentsOf: folderB.resultsJSON) == jsonBefore)
    }

    @Test func aFailingCellIsRecordedAndTheOthersFinish() throws {
        // The second cell freezes every weight, which `hallu run` refuses once it has started.
        let s = try setup("fail", grid: "{}", seeds: "[0]", list: #"[{"method": "sft"}, {"method": "sft", "freeze_projector": true, "freeze_language_model": true}]"#)
        let args = ["sweep", s.file.path, "--threads", "1", "--out", s.work.appendingPathComponent("out").path]
        let r = try SweepFixture.run(args, cwd: s.work, env: s.env, logDir: s.work, tag: "F1")
        #expect(r.status == 1)
        let folder = SweepFolder(s.work.appendingPathComponent("out/fail"))
        let bad = "sft_freeze_projector=true_freeze_language_model=true_s0"
        #expect(folder.cell("sft_s0").isFinished)
        let error = try String(contentsOf: folder.error(bad), encoding: .utf8)
        #expect(error.hasPrefix("cell \(bad) failed: exit status 1"))
        #expect(error.contains("nothing to train"))
        let status = try JSONFiles.readJSON(folder.status(bad).path) as? [String: Any]
        #expect(status?["status"] as? String == "failed" && status?["exit_status"] as? Int == 1)
        #expect(r.out.contains("1 cell failed:"))
        #expect(r.out.contains("FAILED (exit 1)"))
        let md = try String(contentsOf: folder.resultsMarkdown, encoding: .utf8)
        #expect(md.contains("1 of 2 cells finished.") && md.contains("`\(bad)`"))

        // A rerun keeps the finished cell and retries the failed one.
        let again = try SweepFixture.run(args, cwd: s.work, env: s.env, logDir: s.work, tag: "F2")
        #expect(again.status == 1)
        #expect(again.out.contains("sft_s0: finished earlier, skipped"))
        #expect(attempts(folder.stdout(bad)).count == 2)
        #expect(attempts(folder.stdout("sft_s0")).count == 1)
    }

    @Test func unknownMethodsAndOptionsFailBeforeAnyCellRuns() throws {
        let a = try setup("typo", grid: #"{"method": ["sft", "hsadpo"], "hsadpo.betta": [0.1]}"#)
        let out = a.work.appendingPathComponent("out")
        let r = try SweepFixture.run(["sweep", a.file.path, "--out", out.path], cwd: a.work, env: a.env, logDir: a.work, tag: "T1")
        #expect(r.status == 1)
        #expect(r.err.contains("hsadpo: unknown option \"betta\" (did you mean \"beta\"?)"), "\(r.err)")
        let b = try setup("typo2", grid: #"{"method": ["sft", "selective-eso"]}"#)
        let r2 = try SweepFixture.run(["sweep", b.file.path, "--out", out.path], cwd: b.work, env: b.env, logDir: b.work, tag: "T2")
        #expect(r2.status == 1 && r2.err.contains("unknown method \"selective-eso\". Did you mean \"selective-eos\"?"), "\(r2.err)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func slurmScriptSingleCellsAndTheLockOfARunningCell() throws {
        let s = try setup("arr", grid: #"{"method": ["sft"]}"#)
        let out = s.work.appendingPathComponent("out")
        let emit = try SweepFixture.run(["sweep", s.file.path, "--out", out.path, "--emit", "slurm", "--threads", "2"],
                                        cwd: s.work, env: s.env, logDir: s.work, tag: "E")
        #expect(emit.status == 0, "\(emit.err)")
        let folder = SweepFolder(out.appendingPathComponent("arr"))
        let script = try String(contentsOf: folder.slurm, encoding: .utf8)
        #expect(script.contains("#SBATCH --array=0-1\n") && script.contains("#SBATCH --cpus-per-task=2\n"))
        #expect(script.contains("--cell \"$SLURM_ARRAY_TASK_ID\""))
        #expect(!FileManager.default.fileExists(atPath: folder.cells.path))

        // Cell 1 is held by another process (as a cell left running by a killed sweep would be): wait, then run.
        try FileManager.default.createDirectory(at: folder.locks, withIntermediateDirectories: true)
        let fd = open(folder.lock("sft_s1").path, O_RDWR | O_CREAT, 0o644)
        #expect(fd >= 0 && flock(fd, LOCK_EX) == 0)
        let p = try SweepFixture.start(["sweep", s.file.path, "--out", out.path, "--threads", "1", "--cell", "1"],
                                       cwd: s.work, env: s.env, logDir: s.work, tag: "C")
        let log = s.work.appendingPathComponent("C.out")
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && !((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("waiting for it") && Date() < deadline { usleep(50_000) }
        #expect(p.isRunning)
        #expect(!FileManager.default.fileExists(atPath: folder.cell("sft_s1").url.path))
        close(fd)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(folder.cell("sft_s1").isFinished && !folder.cell("sft_s0").isFinished)
        #expect(!FileManager.default.fileExists(atPath: folder.resultsCSV.path))

        let report = try SweepFixture.run(["sweep", "report", folder.url.path], cwd: s.work, env: s.env, logDir: s.work, tag: "R")
        #expect(report.status == 0)
        let rows = csvRows(try String(contentsOf: folder.resultsCSV, encoding: .utf8))
        #expect(rows.count == 2 && rows[1][3] == "1" && rows[1][4] == "2" && rows[1][5] == "1")

        let bad = try SweepFixture.run(["sweep", "report", s.work.path], cwd: s.work, env: s.env, logDir: s.work, tag: "R2")
        #expect(bad.status == 1 && bad.err.contains("not a sweep folder"))
    }
}
