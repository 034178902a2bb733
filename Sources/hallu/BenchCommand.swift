import CoreRuntime
import Foundation

/// `hallu bench`: kernels, model steps and the end-to-end job, each next to its reference.
struct BenchCommand: Command {
    let name = "bench"
    let summary = "benchmark kernels and training against OpenBLAS and PyTorch"
    let usage = "hallu bench [kernels|model|e2e|all] [--json] [--quick] [--method M]"
    /// The default job the e2e suite times (DESIGN.md: `hallu run --method hsadpo`).
    static let defaultJob = "hsadpo"
    let flags = [Flag(name: "json", value: nil, help: "print the results as JSON"),
                 Flag(name: "quick", value: nil, help: "fewer repetitions (noisier)"),
                 Flag(name: "method", value: "M", help: "e2e: the method of the timed job", defaultText: BenchCommand.defaultJob)]

    func run(_ args: Arguments) throws -> Int32 {
        let suite = args.positionals.first ?? "all"
        guard Bench.suites.contains(suite) else {
            let hint = Suggest.nearest(suite, in: Bench.suites).map { " (did you mean \($0)?)" } ?? ""
            throw HalluError("bench: unknown suite \"\(suite)\"\(hint); use kernels, model, e2e or all")
        }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let results = try Bench.run(suite: suite, quick: args.flag("quick"), executable: exe,
                                    e2eMethod: args.string("method") ?? Self.defaultJob, log: { eprint($0) })
        if args.flag("json") {
            print(String(decoding: try Bench.json(results), as: UTF8.self))
        } else {
            print(Bench.markdown(results))
        }
        return 0
    }
}
