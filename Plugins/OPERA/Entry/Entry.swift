import CoreRuntime
import OPERA

// The library's two C entry points (see `HalluPlugin`).

@_cdecl("hallu_plugin_abi")
public func halluPluginABI() -> UInt64 { halluInterfaceFingerprint }

@_cdecl("hallu_plugin_entry")
public func halluPluginEntry() -> UnsafeMutableRawPointer? { OPERAPlugin.plugin.export() }
