import CoreRuntime
import Foundation

/// `hallu bench`: kernels, model steps and the end-to-end job, each next to its reference.
struct BenchCommand: Command {
    let name = "bench"
    let summary = "benchmark kernels and training against OpenBLAS and PyTorch"
    let usage = "hallu bench [kernels|model|decode|e2e|real|7b|all] [--json] [--quick] [--method M] [--plugin PATH]"
    /// The default job the e2e suite times (DESIGN.md: `hallu run --method hsadpo`).
    static let defaultJob = "hsadpo"
    let flags = [Flag(name: "json", value: nil, help: "print the results as JSON"),
                 Flag(name: "quick", value: nil, help: "fewer repetitions (noisier)"),
                 Flag(name: "method", value: "M", help: "e2e: the method of the timed job", defaultText: BenchCommand.defaultJob),
                 Flag(name: "checkpoint", value: "DIR", help: "real: measure this checkpoint folder in this process and print its JSON"),
                 Flag(name: "new-tokens", value: "N", help: "with --checkpoint: tokens decoded per measurement", defaultText: "16"),
                 Flag(name: "iterations", value: "N", help: "timed repetitions (median): with --checkpoint (default 2), of every model case, or decode's paired rounds (default 15)"),
                 Flag(name: "no-decode", value: nil, help: "with --checkpoint: prefill only"),
                 Flag(name: "half-products", value: "MODE", help: "with --checkpoint: products with bfloat16 weights, widened or bf16-dot",
                      defaultText: "widened, and bf16-dot as well where the CPU has it"),
                 Flag(name: "cases", value: "LIST", help: "model: only these cases, comma-separated (\(Bench.modelCases.joined(separator: ", ")))"),
                 Flag(name: "no-reference", value: nil, help: "model: measure hallu alone (no PyTorch)"),
                 Flag(name: "plugin", value: "PATH", help: "decode: also load this plugin library (repeatable)", defaultText: "plugins beside hallu")]

    func run(_ args: Arguments) throws -> Int32 {
        let suite = args.positionals.first ?? "all"
        guard Bench.suites.contains(suite) else {
            let hint = Suggest.nearest(suite, in: Bench.suites).map { " (did you mean \($0)?)" } ?? ""
            throw HalluError("bench: unknown suite \"\(suite)\"\(hint); use \(Bench.suites.joined(separator: ", "))")
        }
        if let dir = args.string("checkpoint") {
            guard suite == "real" else { throw HalluError("bench: --checkpoint applies to the real suite") }
            try requireFolder(dir, "--checkpoint")
            try HalfProductsFlag.apply(args)
            let data = try Bench.measureCheckpoint(URL(fileURLWithPath: dir), newTokens: try args.int("new-tokens", atLeast: 1) ?? 16,
                                                   iterations: try args.int("iterations", atLeast: 1) ?? 2,
                                                   decode: !args.flag("no-decode"), log: { eprint($0) })
            print(String(decoding: data, as: UTF8.self))
            return 0
        }
        if args.string("half-products") != nil { throw HalluError("bench: --half-products applies with --checkpoint") }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let cases = args.string("cases").map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        let results = try Bench.run(suite: suite, quick: args.flag("quick"), executable: exe, cases: cases,
                                    reference: !args.flag("no-reference"), iterations: try args.int("iterations", atLeast: 1),
                                    e2eMethod: args.string("method") ?? Self.defaultJob,
                                    decoders: try decoders(args, suite: suite), log: { eprint($0) })
        if args.flag("json") {
            print(String(decoding: try Bench.json(results), as: UTF8.self))
        } else {
            print(Bench.markdown(results))
        }
        return 0
    }

    /// The decoding methods of the plugins beside hallu and of `--plugin` (only the decode suite reads them).
    private func decoders(_ args: Arguments, suite: String) throws -> [DecoderDescriptor] {
        guard suite == "decode" || suite == "all" else { return [] }
        let registry = PluginRegistry()
        try registry.discover()
        for p in args.all("plugin") { try registry.load(p) }
        return registry.decoderDescriptors
    }
}
