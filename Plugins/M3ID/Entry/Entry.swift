import CoreRuntime
import M3ID

@_cdecl("hallu_plugin_abi")
public func halluPluginABI() -> Int32 { HalluVersion.pluginABI }

@_cdecl("hallu_plugin_entry")
public func halluPluginEntry() -> UnsafeMutableRawPointer {
    let m = M3IDMethod()
    return HalluPlugin(methods: [], decoders: [DecoderDescriptor(id: m.id, summary: m.summary, make: { M3IDMethod() })]).export()
}
