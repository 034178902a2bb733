import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Builds the cached default world and baselines that cells need before any cell starts. Cells
/// running side by side (`-j N`, or Slurm array tasks) would otherwise all build the same cache
/// entry at once; here one process builds it under a file lock in the cache folder and the others
/// wait, then find it cached.
public enum SweepAssets {
    /// Ensures the default world and baseline each config relies on (no `data` / no `base`).
    public static func ensure(for configs: [RunConfig], log: @escaping (String) -> Void) throws {
        let needs = configs.filter { $0.base == nil || $0.data == nil }
        guard !needs.isEmpty else { return }
        try FileManager.default.createDirectory(at: HalluCache.root, withIntermediateDirectories: true)
        let lockPath = HalluCache.root.appendingPathComponent(".assets.lock").path
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HalluError.file(lockPath, "cannot open the cache lock (errno \(errno))") }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            log("waiting for another process that is building the default assets in \(HalluCache.root.path)")
            _ = flock(fd, LOCK_EX)
        }
        let registry = PluginRegistry()
        try registry.discover()
        for p in Set(configs.flatMap(\.plugins)).sorted() { try registry.load(p) }
        var done = Set<String>()
        for c in needs {
            let dataDir = try c.data.map { URL(fileURLWithPath: $0) } ?? DefaultAssets.world(seed: 0, exports: registry.worldExports, log: log)
            guard c.base == nil, done.insert("\(c.preset)|\(dataDir.path)").inserted else { continue }
            _ = try BaselineBuilder(preset: c.preset, dataDir: dataDir, registry: registry, log: log).ensure()
        }
    }
}
