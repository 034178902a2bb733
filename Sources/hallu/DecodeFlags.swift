import CoreRuntime
import Foundation

/// `--decode NAME [--set NAME.KEY=VALUE ...] [--plugin PATH ...]`, as `hallu generate` and
/// `hallu eval model` take them.
enum DecodeFlags {
    static let flags = [
        Flag(name: "decode", value: "NAME", help: "decoding method from a plugin (vcd, m3id, dola, opera, ...)", defaultText: "plain decoding"),
        Flag(name: "set", value: "NAME.KEY=VALUE", help: "an option of the decoding method, e.g. vcd.alpha=0.5", repeats: true),
        Flag(name: "plugin", value: "PATH", help: "load a plugin library (repeatable)", repeats: true),
    ]

    /// The decoding method the flags name, configured, with its resolved options; nil without --decode.
    /// `registry`: plugins already loaded (with the --plugin libraries); else they are found here.
    static func decoder(_ args: Arguments, registry loaded: PluginRegistry? = nil) throws -> (method: DecodingMethod, options: [String: String])? {
        var overrides: [String: String] = [:]
        let name = args.string("decode")
        for s in args.all("set") {
            guard let eq = s.firstIndex(of: "="), let dot = s[..<eq].firstIndex(of: ".") else {
                throw HalluError("--set \(s): expected NAME.KEY=VALUE, e.g. vcd.alpha=0.5")
            }
            let owner = String(s[..<dot]), key = String(s[s.index(after: dot)..<eq]), value = String(s[s.index(after: eq)...])
            guard let name else { throw HalluError("--set \(s): options are for the decoding method; give --decode \(owner) as well") }
            guard owner == name else { throw HalluError("--set \(s): sets an option of \"\(owner)\", but --decode is \"\(name)\"") }
            overrides[key] = value
        }
        guard let name else { return nil }
        let registry: PluginRegistry
        if let loaded { registry = loaded } else {
            registry = PluginRegistry()
            try registry.discover()
            for p in args.all("plugin") { try registry.load(p) }
        }
        let method = try registry.makeDecoder(name, options: overrides)
        return (method, try OptionValues.resolve(method.options, overrides: overrides, method: name))
    }
}
