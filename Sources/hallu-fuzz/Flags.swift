import CoreRuntime
import Foundation

/// Where the `hallu` executable is, for the command-line surface (nil: that surface is skipped).
nonisolated(unsafe) var halluExecutable: URL? = nil

/// The command line: `hallu` run as a subprocess with flag values at the edges. It must exit 0 or
/// with a clear error (exit 1-3, a message on stderr), never by a signal or past a timeout.
enum Flags {
    static let values: [String] = Edge.ints.map(String.init) + Edge.doubles.map { "\($0)" } + Edge.strings.filter { !$0.contains("\u{0}") }
        + ["nan", "inf", "-inf", "1e309", "-0", "0x10", " 5", "true", "cosine", "linear", "bogus", "a,b", "tiny", "small", "1.5"]
    static let runKeys = ["steps", "epochs", "batch_size", "grad_accum", "lr", "projector_lr", "weight_decay", "schedule", "min_lr_ratio",
                          "warmup_ratio", "warmup_steps", "clip", "seed", "threads", "lora", "lora_r", "lora_alpha", "lora_dropout",
                          "lora_targets", "save_every", "keep_last", "eval_every", "log_every", "eval_images", "eval_max_new_tokens",
                          "name", "preset", "method", "weight.sft", "sft.x", "weight.bogus", "bogus.x", "trainer.lr", "group_by_length"]

    static let surface = Surface(name: "flags", weight: 2, make: { seeds, rng, dir in
        let world = seeds.world.path, ckpt = seeds.checkpoint.path
        let image = try FileManager.default.contentsOfDirectory(atPath: world + "/images/eval").sorted()[0]
        func v() -> String { rng.pick(values) }
        var args: [String]
        switch rng.int(6) {
        case 0:
            args = ["run", "--method", "sft", "--base", dir.path + "/no-base", "--data", world, "--runs-dir", dir.path + "/runs", "--name", "r", "--skip-eval"]
            for _ in 0..<(1 + rng.int(3)) {
                switch rng.int(9) {
                case 0: args += ["--steps", v()]
                case 1: args += ["--epochs", v()]
                case 2: args += ["--seed", v()]
                case 3: args += ["--threads", v()]
                case 4: args += ["--eval-images", v()]
                case 5: args += ["--name", v()]
                case 6: args += ["--preset", v()]
                case 7: args += [rng.pick(["--lora", "--resume", "--skip-eval"])]
                default: args += ["--set", rng.pick(runKeys) + "=" + v()]
                }
            }
        case 1:
            args = ["generate", "--model", ckpt, "--image", world + "/images/eval/" + image, "--prompt", "Describe the image."]
            for _ in 0..<(1 + rng.int(3)) {
                args += [rng.pick(["--max-new-tokens", "--num-beams", "--temperature", "--top-p", "--top-k", "--seed", "--length-penalty"]), v()]
            }
        case 2:
            let q = dir.appendingPathComponent("q.jsonl"), a = dir.appendingPathComponent("a.jsonl")
            try seeds.docs["questions.jsonl"]!.write(to: q); try seeds.docs["answers.jsonl"]!.write(to: a)
            args = ["eval", "pope", "--questions", q.path, "--answers", a.path]
            if rng.chance(0.5) { args += ["--answer-key", v()] } else { args += ["--split", v() + "=" + q.path + ":" + a.path] }
        case 3:
            args = ["data", "show", world, rng.chance(0.5) ? v() : "2", "--out", dir.path + "/sheet.png"]
            args += [rng.pick(["--scale", "--columns"]), v()]
        case 4:
            let s = dir.appendingPathComponent("sweep.json")
            try seeds.docs["sweep.json"]!.write(to: s)
            args = ["sweep", s.path, "--emit", "slurm", "--out", dir.path + "/sweeps"]
            args += [rng.pick(["-j", "--threads", "--cell", "--time"]), v()]
        default:
            args = ["eval", "model", "--model", ckpt, "--data", world, "--out", dir.path + "/eval"]
            args += [rng.pick(["--images", "--max-new-tokens", "--batch-size"]), v()]
        }
        try JSONSerialization.data(withJSONObject: args).write(to: dir.appendingPathComponent("args.json"))
    }, consume: { _, dir in
        guard let exe = halluExecutable else { return [.ok] }
        guard let args = (try? JSONSerialization.jsonObject(with: InputFile.read(dir.appendingPathComponent("args.json").path))) as? [String] else {
            return [.unclearError("args.json unreadable")]
        }
        return [Subprocess.judge(exe, args, cwd: dir, timeout: 120)]
    })
}

/// Runs a program and judges how it ended.
enum Subprocess {
    static func judge(_ exe: URL, _ args: [String], cwd: URL, timeout: TimeInterval) -> Outcome {
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        p.currentDirectoryURL = cwd
        let errURL = cwd.appendingPathComponent(".stderr")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        guard let err = try? FileHandle(forWritingTo: errURL) else { return .unclearError("cannot capture stderr") }
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return .unclearError("could not start hallu: \(error)") }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            return .hang("hallu \(args.joined(separator: " ")) ran past \(Int(timeout)) s")
        }
        try? err.close()
        let text = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        let cmd = "hallu " + args.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
        if p.terminationReason == .uncaughtSignal {
            return .signal("signal \(p.terminationStatus): \(cmd): \(text.prefix(300))")
        }
        if p.terminationStatus == 0 { return .ok }
        let last = text.split(separator: "\n").last.map(String.init) ?? ""
        if let raw = rawFoundationText.first(where: { text.contains($0) }) { return .unclearError("raw Foundation text (\(raw)): \(cmd): \(last)") }
        guard (1...3).contains(p.terminationStatus), text.contains("error") || text.hasPrefix("hallu") else {
            return .unclearError("exit \(p.terminationStatus) without a message: \(cmd): \(text.prefix(300))")
        }
        return .clearError(last)
    }
}
