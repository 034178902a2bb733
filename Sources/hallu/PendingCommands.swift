import CoreRuntime
// Commands whose implementation lands with their layers.
struct SweepCommand: Command { let name = "sweep"; let summary = "run ablation sweeps"; let usage = "hallu sweep"; let flags: [Flag] = []; func run(_ args: Arguments) throws -> Int32 { throw HalluError("sweep: not available in this build") } }
