import CoreRuntime
import VCD

@_cdecl("hallu_plugin_abi")
public func halluPluginABI() -> Int32 { HalluVersion.pluginABI }

@_cdecl("hallu_plugin_entry")
public func halluPluginEntry() -> UnsafeMutableRawPointer {
    let m = VCDMethod()
    return HalluPlugin(methods: [], decoders: [DecoderDescriptor(id: m.id, summary: m.summary, make: { VCDMethod() })]).export()
}
