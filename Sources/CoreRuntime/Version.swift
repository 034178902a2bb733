/// The version of hallu's core runtime, and the plugin ABI it speaks.
public enum HalluVersion {
    /// Human-readable version of the runtime.
    public static let string = "0.1.0"
    /// Plugins export the ABI they were built against; a mismatch is refused at load time.
    public static let pluginABI: Int32 = 1
}
