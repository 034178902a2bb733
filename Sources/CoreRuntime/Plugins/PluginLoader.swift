import Foundation

/// How a plugin announces a method: its id and summary (for listings without instantiating) and
/// a factory.
public final class MethodDescriptor {
    public let id: String
    public let summary: String
    public let make: () -> Method
    public init(id: String, summary: String, make: @escaping () -> Method) {
        self.id = id; self.summary = summary; self.make = make
    }
}

/// What a plugin library hands to the host: the training methods and decoding methods it provides.
/// A concrete CoreRuntime class, so no protocol cast is needed across the library boundary.
public final class HalluPlugin {
    public let methods: [MethodDescriptor]
    public let decoders: [DecoderDescriptor]
    /// Set by the loader: where the plugin came from.
    public internal(set) var library = "built-in"
    public init(methods: [MethodDescriptor], decoders: [DecoderDescriptor] = []) { self.methods = methods; self.decoders = decoders }

    /// Hands the plugin to the host from the library's C entry point:
    /// `@_cdecl("hallu_plugin_entry") public func entry() -> UnsafeMutableRawPointer { HalluPlugin(methods: [...]).export() }`
    public func export() -> UnsafeMutableRawPointer { Unmanaged.passRetained(self).toOpaque() }
}

/// Finds, loads and indexes method plugins. Plugins are shared libraries exporting
/// `hallu_plugin_abi` (an Int32 that must equal `HalluVersion.pluginABI`) and `hallu_plugin_entry`.
/// Libraries are never unloaded: Swift objects and metadata from them may live until exit.
public final class PluginRegistry {
    public private(set) var plugins: [HalluPlugin] = []
    private var loadedPaths = Set<String>()

    public init(builtins: Bool = true) {
        if builtins { plugins.append(HalluPlugin(methods: [MethodDescriptor(id: "sft", summary: SFTMethod.summaryText, make: { SFTMethod() })])) }
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

    /// Loads every plugin library found in the search paths (libraries without the entry symbol are skipped).
    public func discover(paths: [String] = PluginRegistry.searchPaths) {
        for dir in paths {
            guard let items = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for f in items.sorted() where f.hasPrefix("lib") && f.hasSuffix(".so") && f != "libCoreRuntime.so" && !f.hasPrefix("libswift") {
                _ = try? load((dir as NSString).appendingPathComponent(f), requireEntry: false)
            }
        }
    }

    /// Loads one library. Errors name the file: missing, not a library, no entry symbol, wrong ABI.
    @discardableResult
    public func load(_ path: String, requireEntry: Bool = true) throws -> HalluPlugin? {
        let full = URL(fileURLWithPath: path).standardizedFileURL.path
        if loadedPaths.contains(full) { return plugins.first { $0.library == full } }
        guard FileManager.default.fileExists(atPath: full) else { throw HalluError.file(full, "plugin library not found") }
        guard let handle = dlopen(full, RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw HalluError.file(full, "cannot be loaded as a shared library: \(why)")
        }
        guard let abiSym = dlsym(handle, "hallu_plugin_abi"), let entrySym = dlsym(handle, "hallu_plugin_entry") else {
            if requireEntry { throw HalluError.file(full, "is not a hallu plugin (no hallu_plugin_abi / hallu_plugin_entry symbol)") }
            return nil
        }
        typealias AbiFn = @convention(c) () -> Int32
        typealias EntryFn = @convention(c) () -> UnsafeMutableRawPointer
        let abi = unsafeBitCast(abiSym, to: AbiFn.self)()
        guard abi == HalluVersion.pluginABI else {
            throw HalluError.file(full, "plugin ABI \(abi) does not match hallu's ABI \(HalluVersion.pluginABI): rebuild the plugin against this CoreRuntime")
        }
        let plugin = Unmanaged<HalluPlugin>.fromOpaque(unsafeBitCast(entrySym, to: EntryFn.self)()).takeRetainedValue()
        plugin.library = full
        loadedPaths.insert(full)
        plugins.append(plugin)
        return plugin
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
