import Foundation

/// The suites behind `hallu bench`.
public enum BenchSuites {
    /// Runs a suite: `kernels`, `model`, `e2e` or `all`.
    public static func run(suite: String, quick: Bool, log: (String) -> Void) throws -> [BenchResult] {
        var out: [BenchResult] = []
        if suite == "kernels" || suite == "all" {
            log("kernels: GEMM through CoreRuntime vs OpenBLAS called directly, memory-bound kernels")
            out += KernelBench.run(quick: quick)
        }
        return out
    }

    /// A Markdown table of results.
    public static func markdown(_ results: [BenchResult]) -> String {
        var s = "| benchmark | unit | hallu | reference | ratio | peak RSS MB |\n|---|---|---|---|---|---|\n"
        for r in results {
            let ref = r.reference.map { String(format: "%.3g (%@)", $0, r.referenceName ?? "") } ?? "-"
            s += "| \(r.name) | \(r.unit) | \(String(format: "%.3g", r.hallu)) | \(ref) | \(r.ratio.map { String(format: "%.2fx", $0) } ?? "-") | \(String(format: "%.0f", r.peakRssMB)) |\n"
        }
        return s
    }
}
