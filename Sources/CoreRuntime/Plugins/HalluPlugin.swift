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

/// What a plugin library hands to the host: everything it adds to hallu. A concrete CoreRuntime
/// class, so no protocol cast is needed across the library boundary.
///
/// A plugin library exports exactly two C functions, each one line:
///
///     @_cdecl("hallu_plugin_abi")
///     public func halluPluginABI() -> UInt64 { halluInterfaceFingerprint }
///
///     @_cdecl("hallu_plugin_entry")
///     public func halluPluginEntry() -> UnsafeMutableRawPointer? { MyPlugin.plugin.export() }
///
/// The first returns the fingerprint of the CoreRuntime interface the plugin was compiled against,
/// which the InterfaceFingerprint build-tool plugin of the CoreRuntime package generates into the
/// module that declares it (`plugins: [.plugin(name: "InterfaceFingerprint", package:
/// "CoreRuntime")]`); the loader refuses the plugin when it is not the host's. The second hands over
/// the plugin.
public final class HalluPlugin {
    /// A short name for messages (the library's name by convention).
    public let name: String
    /// Training methods.
    public let methods: [MethodDescriptor]
    /// Decoding methods (`--decode NAME`).
    public let decoders: [DecoderDescriptor]
    /// Sample kinds of its own (file formats may also fill the built-in kinds).
    public let dataKinds: [DataKindSpec]
    /// File formats it reads, each into a kind.
    public let dataFormats: [DataFormat]
    /// Training files it derives from a scene world when one is generated.
    public let worldExports: [WorldExport]
    /// Evaluators, run after CHAIR, POPE and SHR on every evaluated model.
    public let evaluators: [Evaluator]
    /// Set by the loader: where the plugin came from.
    public internal(set) var library = "built-in"

    public init(name: String, methods: [MethodDescriptor] = [], decoders: [DecoderDescriptor] = [], dataKinds: [DataKindSpec] = [],
                dataFormats: [DataFormat] = [], worldExports: [WorldExport] = [], evaluators: [Evaluator] = []) {
        self.name = name
        self.methods = methods
        self.decoders = decoders
        self.dataKinds = dataKinds
        self.dataFormats = dataFormats
        self.worldExports = worldExports
        self.evaluators = evaluators
    }

    /// The value `hallu_plugin_entry` returns: a retained reference the loader takes over.
    public func export() -> UnsafeMutableRawPointer { Unmanaged.passRetained(self).toOpaque() }
}
