import CoreRuntime
import Foundation

/// `hallu plugins`: every method hallu can load, with its options.
struct PluginsCommand: Command {
    let name = "plugins"
    let summary = "list the available methods (training and decoding) and their options"
    let usage = "hallu plugins [--plugin PATH] [--json]"
    let flags = [Flag(name: "plugin", value: "PATH", help: "also load this plugin library", repeats: true),
                 Flag(name: "json", value: nil, help: "print JSON")]

    func run(_ args: Arguments) throws -> Int32 {
        let registry = PluginRegistry()
        registry.discover()
        for p in args.all("plugin") { try registry.load(p) }
        var list: [[String: Any]] = []
        for plugin in registry.plugins {
            for d in plugin.methods {
                let m = d.make()
                list.append(["id": d.id, "summary": d.summary, "library": plugin.library,
                             "options": m.options.map { ["name": $0.name, "default": $0.defaultValue, "help": $0.help] },
                             "data_kinds": m.dataKinds.map(\.rawValue)])
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
            for o in item["options"] as! [[String: String]] {
                print("    --set \(item["id"]!).\(o["name"]!)=\(o["default"]!)".padding(toLength: 48, withPad: " ", startingAt: 0) + o["help"]!)
            }
        }
        return 0
    }
}
