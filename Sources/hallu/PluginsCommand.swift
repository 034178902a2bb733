import CoreRuntime
import Foundation

/// `hallu plugins`: every method hallu can load, with its options and run defaults; and what else
/// the plugins add (evaluators, data formats, world exports).
struct PluginsCommand: Command {
    let name = "plugins"
    let summary = "list the available methods (training and decoding) and their options"
    let usage = "hallu plugins [--plugin PATH] [--json]"
    let flags = [Flag(name: "plugin", value: "PATH", help: "also load this plugin library", repeats: true),
                 Flag(name: "json", value: nil, help: "print JSON")]

    func run(_ args: Arguments) throws -> Int32 {
        let registry = PluginRegistry()
        try registry.discover()
        for p in args.all("plugin") { try registry.load(p) }
        var list: [[String: Any]] = []
        for plugin in registry.plugins {
            for d in plugin.methods {
                let m = d.make()
                list.append(["id": d.id, "summary": d.summary, "library": plugin.library,
                             "options": m.options.map { ["name": $0.name, "default": $0.defaultValue, "help": $0.help] },
                             "data_kinds": m.dataKinds.map(\.rawValue),
                             "run_defaults": Dictionary(m.runDefaults.settings.map { ($0.key, $0.value) }, uniquingKeysWith: { _, b in b })])
            }
            // Decoding methods (`--decode ID`) have no data kinds; "kind" tells them apart.
            for d in plugin.decoders {
                let m = d.make()
                list.append(["id": d.id, "summary": d.summary, "library": plugin.library, "kind": "decoding",
                             "options": m.options.map { ["name": $0.name, "default": $0.defaultValue, "help": $0.help] },
                             "data_kinds": [String]()])
            }
        }
        if args.flag("json") { try printJSON(list); return 0 }
        for item in list {
            print("\(item["id"]!)  —  \(item["summary"]!)")
            let kind = item["kind"] != nil ? "decoding method (--decode \(item["id"]!))" : "data: " + (item["data_kinds"] as! [String]).joined(separator: ", ")
            print("    library: \(item["library"]!)   \(kind)")
            let defaults = (item["run_defaults"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }
            if !defaults.isEmpty { print("    run defaults: " + defaults.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")) }
            for o in item["options"] as! [[String: String]] {
                print("    --set \(item["id"]!).\(o["name"]!)=\(o["default"]!)".padding(toLength: 48, withPad: " ", startingAt: 0) + o["help"]!)
            }
        }
        print("\nevaluators: " + registry.evaluators.map(\.name).joined(separator: ", "))
        print("data formats: " + registry.data.formats.map { "\($0.name) (\($0.kind): \($0.files.joined(separator: ", ")))" }.joined(separator: "; "))
        let exports = registry.worldExports.map(\.name)
        if !exports.isEmpty { print("scene world exports: " + exports.joined(separator: ", ")) }
        return 0
    }
}
