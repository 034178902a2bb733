import CoreRuntime
import M3ID

// The library's two C entry points (see `HalluPlugin`).

@_cdecl("hallu_plugin_abi")
public func halluPluginABI() -> UInt64 { halluInterfaceFingerprint }

@_cdecl("hallu_plugin_entry")
public func halluPluginEntry() -> UnsafeMutableRawPointer? { M3IDPlugin.plugin.export() }
