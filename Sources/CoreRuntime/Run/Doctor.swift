import Foundation

/// What `hallu doctor` reports: the compute backend and the libraries hallu can load.
public enum Doctor {
    public static func report(plugins: [String]) -> [String: Any] {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("flags") }?
            .split(separator: " ").map(String.init) ?? []
        let wanted = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_bf16", "amx_tile"]
        let model = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let env = ProcessInfo.processInfo.environment
        return [
            "version": HalluVersion.string,
            "plugin_abi": PluginABI.text(PluginABI.host),
            "blas": BLAS.backendName,
            "threads": Parallel.threads,
            "cores": ProcessInfo.processInfo.activeProcessorCount,
            "cpu": model,
            "cpu_features": wanted.filter { flags.contains($0) },
            "compiled_for": "x86-64 haswell (AVX2, FMA)",
            "openblas_coretype": env["OPENBLAS_CORETYPE"] ?? "unset",
            "hallu_blas": env["HALLU_BLAS"] ?? "unset",
            "zlib": Gzip.isAvailable ? "libz.so.1" : "missing (PNG and .gz need it)",
            "cuda": "not built (CPU only)",
            "plugins": plugins,
            "cache_dir": HalluCache.root.path,
        ]
    }
}

/// Where hallu caches the default world and baseline: `$HALLU_CACHE`, else `~/.cache/hallu`.
public enum HalluCache {
    public static var root: URL {
        if let p = ProcessInfo.processInfo.environment["HALLU_CACHE"] { return URL(fileURLWithPath: p) }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSTemporaryDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/hallu")
    }
}
