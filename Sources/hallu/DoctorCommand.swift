import CoreRuntime
import Foundation

/// `hallu doctor`: what this machine gives hallu (BLAS, threads, CPU features, libraries, plugins).
struct DoctorCommand: Command {
    let name = "doctor"
    let summary = "show the BLAS, threads, CPU features and libraries in use"
    let usage = "hallu doctor [--json]"
    let flags = [Flag(name: "json", value: nil, help: "print JSON")]

    func run(_ args: Arguments) throws -> Int32 {
        let registry = PluginRegistry()
        var problems: [String] = []
        do { try registry.discover() } catch let e as HalluError { problems.append(e.message) }
        var report = Doctor.report(plugins: registry.descriptors.map(\.id))
        if !problems.isEmpty { report["plugin_errors"] = problems }
        if args.flag("json") { try printJSON(report); return 0 }
        for k in report.keys.sorted() { print(k.padding(toLength: 18, withPad: " ", startingAt: 0) + "\(report[k]!)") }
        return 0
    }
}
