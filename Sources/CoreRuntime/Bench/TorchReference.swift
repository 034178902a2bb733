import Foundation

/// Runs `bench/torch_reference.py` (the same model in PyTorch) in a child process and reads its
/// JSON line. Python comes from `HALLU_BENCH_PYTHON`, else `/tmp/venv/bin/python` when it exists,
/// else `python3` on the PATH; the script from `HALLU_BENCH_SCRIPT`, else `bench/torch_reference.py`
/// found from the working directory or the executable's folder upwards.
struct TorchReference {
    /// What the script measured.
    struct Measurement {
        var seconds: Double
        var tokens: Int
        var peakRSSMB: Double
        /// The first loss (training cases) or the first sample's generated ids (generation).
        var first: Any?
        var torchVersion: String
        /// Seconds `torch.compile` took before the timed steps (compiled cases only).
        var compileSeconds: Double? = nil
        /// What ran: `pytorch-2.13-cpu`, or `pytorch-2.13-cpu-compile` for `torch.compile`.
        var name: String {
            "pytorch-\(torchVersion.split(separator: "+").first.map(String.init) ?? torchVersion)-cpu" + (compileSeconds != nil ? "-compile" : "")
        }
        /// How log lines name it.
        var label: String { compileSeconds != nil ? "torch.compile" : "pytorch" }
    }

    let python: String
    let script: String
    let threads: Int

    /// A reference runner, or nil with the reason when Python, the script or torch is missing.
    static func locate(threads: Int) -> (TorchReference?, String?) {
        let env = ProcessInfo.processInfo.environment
        let python: String
        if let p = env["HALLU_BENCH_PYTHON"], !p.isEmpty {
            python = p
        } else if FileManager.default.isExecutableFile(atPath: "/tmp/venv/bin/python") {
            python = "/tmp/venv/bin/python"
        } else {
            python = "python3"
        }
        guard let script = findScript(env["HALLU_BENCH_SCRIPT"]) else {
            return (nil, "bench/torch_reference.py not found (set HALLU_BENCH_SCRIPT)")
        }
        let runner = TorchReference(python: python, script: script, threads: threads)
        let probe = runner.run(["-c", "import torch, transformers; print(torch.__version__)"], script: false)
        guard probe.status == 0 else {
            let why = probe.stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(probe.status)"
            return (nil, "PyTorch reference unavailable (\(python): \(why))")
        }
        return (runner, nil)
    }

    static func findScript(_ explicit: String?, name: String = "bench/torch_reference.py") -> String? {
        let fm = FileManager.default
        if let explicit, !explicit.isEmpty { return fm.fileExists(atPath: explicit) ? explicit : nil }
        var starts = [URL(fileURLWithPath: fm.currentDirectoryPath)]
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            starts.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        for start in starts {
            var dir = start
            for _ in 0..<6 {
                let candidate = dir.appendingPathComponent(name).path
                if fm.fileExists(atPath: candidate) { return candidate }
                dir.deleteLastPathComponent()
            }
        }
        return nil
    }

    /// Runs one case; `model` is a checkpoint folder, `batch` the workload's JSON file.
    func measure(case name: String, model: URL, batch: URL, warmup: Int, iterations: Int,
                 extra: [String] = []) throws -> Measurement {
        let args = ["--case", name, "--model", model.path, "--batch", batch.path, "--threads", "\(threads)",
                    "--warmup", "\(warmup)", "--iters", "\(iterations)"] + extra
        let r = run(args, script: true)
        guard r.status == 0 else {
            if r.status == 3, let why = r.stderr.split(separator: "\n").last(where: { $0.hasPrefix("torch.compile failed") }) {
                throw HalluError("PyTorch reference case \(name): \(why)")
            }
            throw HalluError("PyTorch reference case \(name) failed (exit \(r.status)): \(r.stderr.suffix(600))")
        }
        guard let line = r.stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let seconds = obj["seconds"] as? Double, let tokens = obj["tokens"] as? Int else {
            throw HalluError("PyTorch reference case \(name) printed no result: \(r.stdout.suffix(300))")
        }
        return Measurement(seconds: seconds, tokens: tokens, peakRSSMB: obj["peak_rss_mb"] as? Double ?? 0,
                           first: obj["first"], torchVersion: obj["torch"] as? String ?? "?",
                           compileSeconds: obj["compile_seconds"] as? Double)
    }

    /// What `bench/torch_real.py` measured on one checkpoint.
    struct RealMeasurement {
        var loadSeconds: Double
        var peakRSSMB: Double
        var prefillSeconds: Double
        var firstToken: Int
        /// Generated tokens per second by batch size.
        var decode: [Int: Double]
        var decodeIds: [Int]
        var transformersVersion: String
    }

    /// Runs `bench/torch_real.py` on a checkpoint folder (see `RealBench`).
    func measureReal(model: URL, newTokens: Int, iterations: Int) throws -> RealMeasurement {
        guard let script = Self.findScript(nil, name: "bench/torch_real.py") else { throw HalluError("bench/torch_real.py not found") }
        let r = Self.runProcess(python, [script, "--model", model.path, "--threads", "\(threads)", "--new-tokens", "\(newTokens)",
                                         "--iters", "\(iterations)"], environment: nil, threads: threads)
        guard r.status == 0 else { throw HalluError("transformers reference failed (exit \(r.status)): \(r.stderr.suffix(600))") }
        guard let line = r.stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw HalluError("transformers reference printed no result: \(r.stdout.suffix(300))")
        }
        func d(_ k: String) -> Double { (o[k] as? NSNumber)?.doubleValue ?? .nan }
        return RealMeasurement(loadSeconds: d("load_seconds"), peakRSSMB: d("peak_rss_mb"), prefillSeconds: d("prefill_seconds"),
                               firstToken: (o["first_token"] as? NSNumber)?.intValue ?? -1,
                               decode: [1: d("decode_b1_tokens_per_second"), 8: d("decode_b8_tokens_per_second")],
                               decodeIds: o["decode_ids"] as? [Int] ?? [], transformersVersion: o["transformers"] as? String ?? "?")
    }

    private func run(_ args: [String], script: Bool) -> (status: Int32, stdout: String, stderr: String) {
        Self.runProcess(python, (script ? [self.script] : []) + args, environment: nil, threads: threads)
    }

    /// Runs a program (a path, or a name looked up on the PATH) to completion, reading both pipes;
    /// with `threads`, the BLAS/OpenMP thread variables are set to it.
    static func runProcess(_ program: String, _ args: [String], environment: [String: String]?,
                           threads: Int? = nil) -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        if program.contains("/") {
            p.executableURL = URL(fileURLWithPath: program)
            p.arguments = args
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [program] + args
        }
        var env = environment ?? ProcessInfo.processInfo.environment
        if let threads { for v in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"] { env[v] = "\(threads)" } }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return (-1, "", "\(error)") }
        // Read both pipes while the child runs, so neither can fill up and block it.
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errBox.data, as: UTF8.self))
    }
}
