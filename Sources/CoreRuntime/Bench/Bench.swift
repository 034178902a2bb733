import Foundation

/// `hallu bench`: throughput of the kernels and of the whole model, each next to a reference
/// measured in the same run on the same machine and thread count (direct OpenBLAS for matrix
/// products, `bench/torch_reference.py` for the model).
public enum Bench {
    /// The suites `run` accepts.
    public static let suites = ["kernels", "model", "e2e", "real", "7b", "all"]

    /// The cases of the `model` suite that `run(cases:)` may select.
    public static var modelCases: [String] { ModelBench.caseNames }

    /// Runs a suite: `kernels` (GEMM against direct OpenBLAS, memory-bound kernels), `model`
    /// (training steps with model FLOP utilisation, a size sweep, generation, peak memory against
    /// PyTorch eager and torch.compile), `e2e` (`hallu run --method e2eMethod` end to end in child
    /// processes of `executable`, the hallu binary), `real` (TinyLLaVA-1.1B shapes against
    /// transformers), `7b` (a llava-1.5-7b-shaped checkpoint answering one POPE question), or
    /// `all` (all but `7b`). `quick` shortens
    /// every measurement (smoke tests). Progress and cross-checks go to `log`.
    ///
    /// For `model`: `cases` limits it to some of `modelCases` (the sgemm peak always runs),
    /// `reference: false` measures hallu alone, and `iterations` sets the timed repetitions of
    /// every case (the median is reported).
    public static func run(suite: String, quick: Bool = false, executable: String? = nil, cases: [String]? = nil,
                           reference: Bool = true, iterations: Int? = nil, e2eMethod: String = "sft",
                           log: (String) -> Void = { _ in }) throws -> [BenchResult] {
        if let cases {
            guard suite == "model" else { throw HalluError("bench: cases apply to the model suite") }
            for c in cases where !modelCases.contains(c) {
                throw HalluError("bench: unknown model case \"\(c)\" (\(modelCases.joined(separator: ", ")))")
            }
        }
        switch suite {
        case "kernels":
            log("kernel bench: \(Parallel.threads) threads, BLAS \(BLAS.backendName)\(BLAS.coreName.map { " (\($0))" } ?? "")")
            let r = KernelBench.run(quick: quick)
            return r + gemmSummary(r)
        case "model":
            var o = quick ? ModelBench.Options.quick : ModelBench.Options()
            o.cases = cases.map(Set.init)
            o.useReference = reference
            if let iterations { o.iterations = iterations; o.largeIterations = iterations }
            return try ModelBench.run(o, log: log)
        case "e2e":
            guard let executable else {
                log("e2e bench: needs the hallu executable (run it as `hallu bench e2e`); nothing measured")
                return []
            }
            return try EndToEndBench.run(executable: executable, method: e2eMethod, quick: quick, log: log)
        case "real", "7b":
            guard let executable else {
                log("\(suite) bench: needs the hallu executable (run it as `hallu bench \(suite)`); nothing measured")
                return []
            }
            return try suite == "real" ? RealBench.run(executable: executable, quick: quick, log: log)
                : RealBench.run7B(executable: executable, quick: quick, log: log)
        case "all":
            return try ["kernels", "model", "e2e", "real"].flatMap { try run(suite: $0, quick: quick, executable: executable, e2eMethod: e2eMethod, log: log) }
        default:
            throw HalluError("bench: unknown suite \"\(suite)\" (\(suites.joined(separator: ", ")))")
        }
    }

    /// One line over every GEMM shape: the geometric mean of hallu's matrix products through
    /// `BLAS.sgemm` relative to calling OpenBLAS directly.
    static func gemmSummary(_ results: [BenchResult]) -> [BenchResult] {
        let ratios = results.filter { $0.name.contains(" via BLAS") }.compactMap(\.ratio).filter { $0 > 0 }
        guard !ratios.isEmpty else { return [] }
        let g = Foundation.exp(ratios.map { Foundation.log($0) }.reduce(0, +) / Double(ratios.count))
        return [BenchResult(name: "gemm via CoreRuntime vs direct OpenBLAS (geometric mean of \(ratios.count) shapes)",
                            unit: "x", hallu: g, reference: 1, referenceName: "openblas-direct", ratio: g)]
    }

    /// A Markdown table of results (the figures in docs/PERFORMANCE.md).
    public static func markdown(_ results: [BenchResult]) -> String {
        func num(_ v: Double?) -> String {
            guard let v else { return "-" }
            if v == 0 { return "0" }
            let a = Swift.abs(v)
            if a >= 1000 { return String(format: "%.0f", v) }
            if a >= 10 { return String(format: "%.1f", v) }
            return String(format: "%.3g", v)
        }
        var out = "| benchmark | unit | hallu | reference | reference name | ratio | peak RSS MB | MFU |\n"
        out += "|---|---|---|---|---|---|---|---|\n"
        for r in results {
            let ratio = r.ratio.map { String(format: "%.2fx", $0) } ?? "-"
            let mfu = r.mfu.map { String(format: "%.1f%%", 100 * $0) } ?? "-"
            out += "| \(r.name) | \(r.unit) | \(num(r.hallu)) | \(num(r.reference)) | \(r.referenceName ?? "-") | \(ratio) | \(num(r.peakRssMB)) | \(mfu) |\n"
        }
        return out
    }

    /// Measures one checkpoint folder in this process for `hallu bench real` (its child side):
    /// load, prefill of one POPE question and, unless `decode` is false, greedy decoding at batch
    /// 1 and 8. Returns the JSON line the parent reads.
    public static func measureCheckpoint(_ dir: URL, newTokens: Int, iterations: Int, decode: Bool,
                                         log: (String) -> Void) throws -> Data {
        let obj = try RealBench.measureCheckpoint(dir, newTokens: newTokens, iterations: iterations, decode: decode, log: log)
        return try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
    }

    /// The results as the `bench --json` list.
    public static func json(_ results: [BenchResult]) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted]
        return try enc.encode(results)
    }
}
