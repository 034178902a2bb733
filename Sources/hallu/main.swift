import CoreRuntime
import Foundation

// Before anything runs code of CoreRuntime, which may be compiled for AVX2 and FMA.
CPUCheck.requireBuildFeatures()
setvbuf(stdout, nil, _IOLBF, 0)

let commands: [Command] = [RunCommand(), GenerateCommand(), EvalCommand(), DataCommand(), PluginsCommand(),
                           NewMethodCommand(), SweepCommand(), BenchCommand(), DoctorCommand()]

func topHelp() -> String {
    var s = "hallu \(HalluVersion.string): train and evaluate hallucination-mitigation methods for LLaVA-style models\n\nCommands:\n"
    for c in commands { s += "  " + c.name.padding(toLength: 12, withPad: " ", startingAt: 0) + c.summary + "\n" }
    return s + "\nRun `hallu <command> --help` for its flags."
}

let argv = Array(CommandLine.arguments.dropFirst())
guard let first = argv.first, first != "--help", first != "-h", first != "help" else {
    print(topHelp())
    exit(argv.isEmpty ? 1 : 0)
}
if first == "--version" { print(HalluVersion.string); exit(0) }
guard let command = commands.first(where: { $0.name == first }) else {
    let hint = Suggest.nearest(first, in: commands.map(\.name)).map { " Did you mean \"\($0)\"?" } ?? ""
    eprint("hallu: unknown command \"\(first)\".\(hint)\n\n" + topHelp())
    exit(2)
}
let rest = Array(argv.dropFirst())
if rest.contains("--help") || rest.contains("-h") {
    print((command as? RunCommand)?.help(for: rest) ?? command.help)
    exit(0)
}
do {
    let args = try Arguments(rest, flags: command.flags, command: command.name)
    exit(try command.run(args))
} catch let e as HalluError {
    eprint("error: \(e.message)")
    exit(1)
} catch {
    eprint("error: \(error)")
    exit(1)
}
