import CoreRuntime
// Commands whose implementation lands with their layers.
struct GenerateCommand: Command { let name = "generate"; let summary = "describe an image with a checkpoint"; let usage = "hallu generate"; let flags: [Flag] = []; func run(_ args: Arguments) throws -> Int32 { throw HalluError("generate: not available in this build") } }
struct EvalCommand: Command { let name = "eval"; let summary = "score outputs with CHAIR, POPE, SHR"; let usage = "hallu eval"; let flags: [Flag] = []; func run(_ args: Arguments) throws -> Int32 { throw HalluError("eval: not available in this build") } }
struct DataCommand: Command { let name = "data"; let summary = "synthesise and inspect datasets"; let usage = "hallu data"; let flags: [Flag] = []; func run(_ args: Arguments) throws -> Int32 { throw HalluError("data: not available in this build") } }
struct BenchCommand: Command { let name = "bench"; let summary = "benchmark against PyTorch"; let usage = "hallu bench"; let flags: [Flag] = []; func run(_ args: Arguments) throws -> Int32 { throw HalluError("bench: not available in this build") } }
