import Foundation

/// Finds, loads and indexes plugins. A plugin is a shared library that exports `hallu_plugin_abi`
/// (the CoreRuntime interface fingerprint it was compiled against, see `PluginABI`) and
/// `hallu_plugin_entry` (a retained `HalluPlugin`). Libraries are never unloaded: Swift objects and
/// metadata from them may live until exit.
public final class PluginRegistry {
    public private(set) var plugins: [HalluPlugin] = []
    /// The sample kinds and file formats: the built-ins and the plugins'.
    public let data = DataCatalog()
    /// The plugins' scene-world exports, in load order.
    public var worldExports: [WorldExport] { plugins.flatMap(\.worldExports) }
    /// CHAIR, POPE and SHR, then the plugins' evaluators in load order.
    public var evaluators: [Evaluator] { builtInEvaluators + plugins.flatMap(\.evaluators) }
    private let builtInEvaluators = Evaluators.builtIn()

    /// The evaluator of a name, or an error listing the known ones.
    public func evaluator(_ name: String) throws -> Evaluator {
        if let e = evaluators.first(where: { $0.name == name }) { return e }
        let known = evaluators.map(\.name)
        let hint = Suggest.nearest(name, in: known).map { " Did you mean \"\($0)\"?" } ?? ""
        throw HalluError("unknown evaluator \"\(name)\".\(hint) Available: \(known.joined(separator: ", ")).")
    }
    private var loadedPaths = Set<String>()

    /// The C symbols every plugin exports.
    public static let abiSymbol = "hallu_plugin_abi"
    public static let entrySymbol = "hallu_plugin_entry"

    public init(builtins: Bool = true) {
        if builtins {
            plugins.append(HalluPlugin(name: "built-in", methods: [MethodDescriptor(id: "sft", summary: SFTMethod.summaryText, make: { SFTMethod() })]))
        }
    }

    /// Folders searched by default: next to the executable, then `$HALLU_PLUGIN_PATH` (colon-separated).
    public static var searchPaths: [String] {
        var out: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            out.append((exe as NSString).deletingLastPathComponent)
        }
        if let env = ProcessInfo.processInfo.environment["HALLU_PLUGIN_PATH"] {
            out += env.split(separator: ":").map(String.init)
        }
        return out
    }

    /// Loads every plugin in the search folders. A library qualifies when its dynamic symbol table
    /// exports both plugin symbols; that is read from the file, so other libraries in the folders
    /// are never loaded (their initialisers never run). A qualifying library that fails to load
    /// (built against another CoreRuntime, an entry that returns NULL, a method id another plugin
    /// already has) is an error naming it.
    public func discover(paths: [String] = PluginRegistry.searchPaths) throws {
        for dir in paths {
            guard let items = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for f in items.sorted() where f.hasPrefix("lib") && f.hasSuffix(".so") && f != "libCoreRuntime.so" && !f.hasPrefix("libswift") {
                try load((dir as NSString).appendingPathComponent(f), discovering: true)
            }
        }
    }

    /// Loads one library. Errors name the file: missing, not a shared library, not a hallu plugin,
    /// built against another CoreRuntime ("rebuild the plugin"), an entry that returns NULL, a
    /// method id that is already taken. With `discovering`, a library that is not a hallu plugin
    /// is skipped (nil) instead.
    @discardableResult
    public func load(_ path: String, discovering: Bool = false) throws -> HalluPlugin? {
        let full = URL(fileURLWithPath: path).standardizedFileURL.path
        if loadedPaths.contains(full) { return plugins.first { $0.library == full } }
        guard FileManager.default.fileExists(atPath: full) else { throw HalluError.file(full, "plugin library not found") }
        switch try ELFSymbols.exportedFunctions(full, prefix: "hallu_plugin_") {
        case .notELF:
            if discovering { return nil }
            throw HalluError.file(full, "cannot be loaded as a shared library: not an ELF file")
        case .functions(let names) where !names.isSuperset(of: [Self.abiSymbol, Self.entrySymbol]):
            if discovering { return nil }
            throw HalluError.file(full, "is not a hallu plugin (it exports no \(Self.abiSymbol) / \(Self.entrySymbol) function)")
        case .noSymbolTable where discovering:
            return nil
        default:
            break
        }
        guard let handle = dlopen(full, RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            if why.contains("undefined symbol") {
                throw HalluError.file(full, "was built against another CoreRuntime (\(why)): rebuild the plugin against this CoreRuntime")
            }
            throw HalluError.file(full, "cannot be loaded as a shared library: \(why)")
        }
        guard let abiSym = dlsym(handle, Self.abiSymbol), let entrySym = dlsym(handle, Self.entrySymbol) else {
            throw HalluError.file(full, "is not a hallu plugin (no \(Self.abiSymbol) / \(Self.entrySymbol) symbol)")
        }
        typealias AbiFn = @convention(c) () -> UInt64
        typealias EntryFn = @convention(c) () -> UnsafeMutableRawPointer?
        let abi = unsafeBitCast(abiSym, to: AbiFn.self)()
        guard abi == PluginABI.host else {
            throw HalluError.file(full, "was built against another CoreRuntime interface (plugin \(PluginABI.text(abi)), "
                + "this hallu \(PluginABI.text(PluginABI.host))): rebuild the plugin against this CoreRuntime (`swift build` in its package)")
        }
        guard let raw = unsafeBitCast(entrySym, to: EntryFn.self)() else {
            throw HalluError.file(full, "\(Self.entrySymbol) returned NULL: the plugin failed to create its HalluPlugin")
        }
        let plugin = Unmanaged<HalluPlugin>.fromOpaque(raw).takeRetainedValue()
        plugin.library = full
        try register(plugin)
        loadedPaths.insert(full)
        return plugin
    }

    /// Adds a plugin that is already in this process (a test linking a plugin's module, an
    /// application embedding one). Its method ids, data kinds and formats must be new.
    public func register(_ plugin: HalluPlugin) throws {
        try checkUnique(plugin.methods.map(\.id), kind: "method", in: plugin) { p in p.methods.map(\.id) }
        try checkUnique(plugin.decoders.map(\.id), kind: "decoding method", in: plugin) { p in p.decoders.map(\.id) }
        // Checked before anything is added, so that a refused plugin leaves the registry as it was.
        let trial = DataCatalog(copying: data)
        for k in plugin.dataKinds { try trial.register(k, from: plugin.library) }
        for f in plugin.dataFormats { try trial.register(f, from: plugin.library) }
        var evaluatorNames = Set(evaluators.map(\.name) + ["extra", "settings", "model"])
        for e in plugin.evaluators where !evaluatorNames.insert(e.name).inserted {
            throw HalluError.file(plugin.library, "provides the evaluator \"\(e.name)\", a name that is taken (by another evaluator or by metrics.json)")
        }
        let exportFiles = worldExports.flatMap(\.files)
        for e in plugin.worldExports {
            if let clash = e.files.first(where: exportFiles.contains) {
                throw HalluError.file(plugin.library, "world export \"\(e.name)\" writes \(clash), which another plugin writes already")
            }
        }
        for k in plugin.dataKinds { try data.register(k, from: plugin.library) }
        for f in plugin.dataFormats { try data.register(f, from: plugin.library) }
        plugins.append(plugin)
    }

    /// Ids a plugin declares must be distinct and new to the registry.
    private func checkUnique(_ ids: [String], kind: String, in plugin: HalluPlugin, of: (HalluPlugin) -> [String]) throws {
        var seen = Set<String>()
        for id in ids {
            guard seen.insert(id).inserted else {
                throw HalluError.file(plugin.library, "declares the \(kind) \"\(id)\" twice")
            }
            if let other = plugins.first(where: { of($0).contains(id) }) {
                throw HalluError.file(plugin.library, "provides the \(kind) \"\(id)\", which \(other.library) already provides; "
                    + "remove one of the two libraries from the plugin folders")
            }
        }
    }

    /// All method descriptors, in load order.
    public var descriptors: [MethodDescriptor] { plugins.flatMap(\.methods) }

    /// Instantiates a method by id, or explains which ids exist.
    public func make(_ id: String) throws -> Method {
        if let d = descriptors.first(where: { $0.id == id }) { return d.make() }
        let known = descriptors.map(\.id)
        let hint = Suggest.nearest(id, in: known).map { " Did you mean \"\($0)\"?" } ?? ""
        throw HalluError("unknown method \"\(id)\".\(hint) Available: \(known.joined(separator: ", ")). Plugins are searched next to the hallu executable and in $HALLU_PLUGIN_PATH; build them with `swift build`, or pass --plugin PATH.")
    }

    /// Which library provides a method.
    public func library(of id: String) -> String? { plugins.first { $0.methods.contains { $0.id == id } }?.library }
}
