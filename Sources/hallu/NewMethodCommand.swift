import CoreRuntime
import Foundation

/// `hallu new-method NAME`: scaffolds an out-of-tree plugin package that builds against this CoreRuntime.
struct NewMethodCommand: Command {
    let name = "new-method"
    let summary = "scaffold a new method plugin package"
    let usage = "hallu new-method NAME --out DIR [--core PATH]"
    let flags = [Flag(name: "out", value: "DIR", help: "folder to create", defaultText: "./<NAME>"),
                 Flag(name: "core", value: "PATH", help: "path to hallu's Sources/CoreRuntime", defaultText: "found from this hallu")]

    func run(_ args: Arguments) throws -> Int32 {
        guard let name = args.positionals.first else { throw HalluError("new-method: give the method name, e.g. `hallu new-method MyMethod --out ./MyMethod`") }
        let out = URL(fileURLWithPath: args.string("out") ?? name)
        let core = try args.string("core") ?? Scaffold.locateCore()
        let files = try Scaffold.create(name: name, at: out, corePath: core)
        print("created \(out.path):")
        for f in files { print("  \(f)") }
        print("\nbuild:  cd \(out.path) && swift build\nrun:    hallu run --plugin \(out.path)/.build/debug/lib\(Scaffold.typeName(name)).so --method \(Scaffold.methodId(name))")
        return 0
    }
}
