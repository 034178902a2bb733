import CoreRuntime
import Foundation

/// hallu-fuzz: structured fuzzing of every input hallu reads (see docs/RELIABILITY.md).
///
///   hallu-fuzz run --cases N [--seed S] [--jobs J] [--timeout SEC] [--surfaces a,b] [--save DIR]
///                  [--summary FILE] [--fixtures DIR] [--hallu PATH]
///   hallu-fuzz replay CORPUS [--fixtures DIR] [--hallu PATH]
///   hallu-fuzz worker ...           (started by `run`)
let usage = """
    usage: hallu-fuzz run --cases N [--seed S] [--jobs J] [--timeout SEC] [--surfaces a,b,...] [--save DIR] [--summary FILE] [--fixtures DIR] [--hallu PATH]
           hallu-fuzz replay CORPUS [--fixtures DIR] [--hallu PATH]
           hallu-fuzz base DIR        (writes the unmutated seed inputs)
    surfaces: \((Surfaces.all + [Flags.surface]).map(\.name).joined(separator: ", "))
    """

var argv = Array(CommandLine.arguments.dropFirst())
guard let mode = argv.first else { print(usage); exit(2) }
argv.removeFirst()
var options: [String: String] = [:]
var positionals: [String] = []
var k = 0
while k < argv.count {
    let a = argv[k]
    if a.hasPrefix("--"), k + 1 < argv.count { options[String(a.dropFirst(2))] = argv[k + 1]; k += 2 } else { positionals.append(a); k += 1 }
}

func option(_ name: String) -> String? { options[name] }
func intOption(_ name: String, _ def: Int) -> Int {
    guard let s = options[name] else { return def }
    guard let v = Int(s), v >= 0 else { FileHandle.standardError.write(Data("--\(name): expected a whole number\n".utf8)); exit(2) }
    return v
}

/// The repository's Tests/Fixtures, found from the working directory or beside the executable.
func findFixtures() -> URL? {
    if let f = option("fixtures") { return URL(fileURLWithPath: f) }
    var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    for _ in 0..<6 {
        let f = dir.appendingPathComponent("Tests/Fixtures")
        if FileManager.default.fileExists(atPath: f.path) { return f }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}

if let h = option("hallu") { halluExecutable = URL(fileURLWithPath: h) } else {
    let self_ = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let beside = URL(fileURLWithPath: self_).deletingLastPathComponent().appendingPathComponent("hallu")
    if FileManager.default.isExecutableFile(atPath: beside.path) { halluExecutable = beside }
}
let chosenNames = option("surfaces").map { $0.split(separator: ",").map(String.init) }
    ?? (Surfaces.all + (halluExecutable == nil ? [] : [Flags.surface])).map(\.name)
let chosen = (Surfaces.all + [Flags.surface]).filter { chosenNames.contains($0.name) }
guard !chosen.isEmpty else { print(usage); exit(2) }

// Small limits keep each case cheap; the checks they exercise are the same.
setenv("HALLU_MAX_DECOMPRESSED_BYTES", "67108864", 0)
setenv("HALLU_MAX_IMAGE_PIXELS", "4000000", 0)
setenv("HALLU_THREADS", "1", 0)
setenv("HALLU_CACHE", NSTemporaryDirectory() + "hallu-fuzz-cache", 0)

do {
    switch mode {
    case "worker":
        try Worker.run(seed: UInt64(option("seed") ?? "0") ?? 0, from: intOption("from", 0), to: intOption("to", 0),
                       step: max(1, intOption("step", 1)), surfaces: chosen, fixtures: findFixtures(),
                       scratch: URL(fileURLWithPath: option("scratch") ?? NSTemporaryDirectory() + "hallu-fuzz-\(getpid())"))
        exit(0)
    case "run":
        let scratch = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("hallu-fuzz-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let driver = Driver(seed: UInt64(option("seed") ?? "1") ?? 1, cases: intOption("cases", 1000), jobs: max(1, intOption("jobs", 1)),
                            timeout: Double(intOption("timeout", 30)), surfaces: chosen.map(\.name), fixtures: findFixtures(),
                            save: option("save").map { URL(fileURLWithPath: $0) }, scratch: scratch)
        try driver.run()
        driver.saveUnclear()
        let r = driver.report()
        print(r.text, terminator: "")
        if let s = option("summary") {
            try AtomicFile.write(try JSONSerialization.data(withJSONObject: r.json, options: [.prettyPrinted, .sortedKeys]), to: URL(fileURLWithPath: s))
        }
        try? FileManager.default.removeItem(at: scratch)
        exit(r.failed ? 1 : 0)
    case "base":
        // The seed inputs, unmutated, for writing corpus cases by hand.
        guard let out = positionals.first else { print(usage); exit(2) }
        let seeds = try Seeds(root: URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("hallu-fuzz-base-\(getpid())"),
                              fixtures: findFixtures())
        for (name, data) in seeds.docs {
            let url = URL(fileURLWithPath: out).appendingPathComponent(name)
            try Folders.create(url.deletingLastPathComponent())
            try data.write(to: url)
        }
        exit(0)
    case "replay":
        guard let corpus = positionals.first else { print(usage); exit(2) }
        let scratch = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("hallu-fuzz-replay-\(getpid())")
        let bad = try Corpus.replay(URL(fileURLWithPath: corpus), fixtures: findFixtures(), scratch: scratch)
        try? FileManager.default.removeItem(at: scratch)
        exit(bad == 0 ? 0 : 1)
    default:
        print(usage)
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("hallu-fuzz: \(error)\n".utf8))
    exit(2)
}
