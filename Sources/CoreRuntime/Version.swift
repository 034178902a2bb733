/// The version of hallu's core runtime.
public enum HalluVersion {
    /// Human-readable version of the runtime.
    public static let string = "0.1.0"
}

/// What a plugin is checked against when it loads: a fingerprint of CoreRuntime's public interface,
/// computed from the sources when CoreRuntime builds (`interfaceFingerprint`, generated). Swift on
/// Linux has no stable ABI, so a plugin compiled against another interface may crash in ways no
/// message explains; the loader refuses it instead and says to rebuild it.
public enum PluginABI {
    /// The fingerprint of the CoreRuntime that is running (the host's).
    public static let host: UInt64 = interfaceFingerprint

    /// The fingerprint as it is written in messages.
    public static func text(_ value: UInt64) -> String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    }
}
