import CoreRuntime
import Foundation

/// `hallu bench`: kernels, model steps and the end-to-end job, each next to its reference.
struct BenchCommand: Command {
    let name = "bench"
    let summary = "benchmark kernels and training against OpenBLAS and PyTorch"
    let usage = "hallu bench [kernels|model|e2e|all] [--json] [--quick]"
    let flags = [Flag(name: "json", value: nil, help: "print the results as JSON"),
                 Flag(name: "quick", value: nil, help: "fewer repetitions (noisier)")]

    func run(_ args: Arguments) throws -> Int32 {
        let suite = args.positionals.first ?? "all"
        guard ["kernels", "model", "e2e", "all"].contains(suite) else {
            let hint = Suggest.nearest(suite, in: ["kernels", "model", "e2e", "all"]).map { " (did you mean \($0)?)" } ?? ""
            throw HalluError("bench: unknown suite \"\(suite)\"\(hint); use kernels, model, e2e or all")
        }
        let results = try BenchSuites.run(suite: suite, quick: args.flag("quick"), log: { eprint($0) })
        if args.flag("json") {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(data: try enc.encode(results), encoding: .utf8)!)
        } else {
            print(BenchSuites.markdown(results))
        }
        return 0
    }
}
