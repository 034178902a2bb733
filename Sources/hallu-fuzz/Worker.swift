import CoreRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The case a seed and an index make: its surface (drawn by weight) and its random source.
func fuzzCase(seed: UInt64, index: Int, surfaces: [Surface]) -> (Surface, FuzzRNG) {
    var rng = FuzzRNG(seed: seed, index: index)
    let total = surfaces.reduce(0) { $0 + $1.weight }
    var r = rng.int(total)
    for s in surfaces {
        if r < s.weight { return (s, rng) }
        r -= s.weight
    }
    return (surfaces[0], rng)
}

/// Makes case `index` in a fresh `dir`; nil when making it failed (the case is skipped).
func makeCase(_ seeds: Seeds, seed: UInt64, index: Int, surfaces: [Surface], dir: URL) -> Surface? {
    try? FileManager.default.removeItem(at: dir)
    try? Folders.create(dir)
    var (surface, rng) = fuzzCase(seed: seed, index: index, surfaces: surfaces)
    do { try surface.make(seeds, &rng, dir) } catch { return nil }
    return surface
}

/// The worst of several outcomes.
func worst(_ outcomes: [Outcome]) -> Outcome { outcomes.max { $0.rank < $1.rank } ?? .ok }

/// `hallu-fuzz worker`: runs cases `from, from + step, ...` below `to` in this process and reports
/// each on the protocol descriptor: "S <index> <surface>" before, "R <index> <label> <message>" after.
/// A crash or a hang leaves an S without its R, which the driver sees.
enum Worker {
    static func run(seed: UInt64, from: Int, to: Int, step: Int, surfaces: [Surface], fixtures: URL?, scratch: URL) throws {
        // Protocol lines go to the original stdout; anything hallu prints goes to stderr.
        let proto = dup(1)
        dup2(2, 1)
        let seeds = try Seeds(root: scratch.appendingPathComponent("seeds"), fixtures: fixtures)
        let dir = scratch.appendingPathComponent("case")
        func say(_ s: String) {
            let line = s.replacingOccurrences(of: "\n", with: " ") + "\n"
            _ = line.utf8CString.withUnsafeBufferPointer { write(proto, $0.baseAddress!, $0.count - 1) }
        }
        say("READY")
        var i = from
        while i < to {
            guard let surface = makeCase(seeds, seed: seed, index: i, surfaces: surfaces, dir: dir) else {
                say("R \(i) skip -")
                i += step
                continue
            }
            say("S \(i) \(surface.name)")
            let outcome = worst(surface.consume(seeds, dir))
            say("R \(i) \(outcome.label) \(outcome.message.prefix(600))")
            i += step
        }
        say("DONE")
    }
}
