import Foundation
import CoreRuntime

/// The small world the byte-identity pins are taken on: seed 3, 40 training and 30 eval images, in
/// each format version (5 down to 1; older formats with the settings they had).
public enum WorldVariants {
    public static var all: [(format: Int, config: WorldConfig)] {
        var c = WorldConfig()
        c.trainImages = 40
        c.evalImages = 30
        c.seed = 3
        var out = [(5, c)]
        var v4 = c
        v4.formatVersion = 4
        v4.ubiquitous = []
        v4.ubiquitousWeight = 0
        out.append((4, v4))
        var v3 = v4
        v3.formatVersion = 3
        v3.tinyObjectShare = 0
        out.append((3, v3))
        var v2 = v3
        v2.formatVersion = 2
        v2.yesNoAnswers = "sentence"
        out.append((2, v2))
        var v1 = v2
        v1.formatVersion = 1
        v1.yesNoNegatives = "scene_prior"
        out.append((1, v1))
        return out
    }
}

/// The files below `dir` (relative paths, sorted) with their bytes; `only` keeps those names,
/// `excluding` drops them.
public func filesBelow(_ dir: URL, only: Set<String>? = nil, excluding: Set<String> = []) throws -> [(String, Data)] {
    let fm = FileManager.default
    guard let e = fm.enumerator(atPath: dir.path) else { throw HalluTestError("cannot list \(dir.path)") }
    var out: [(String, Data)] = []
    while let rel = e.nextObject() as? String {
        guard !excluding.contains(rel), only?.contains(rel) ?? true else { continue }
        var isDir: ObjCBool = false
        let p = dir.appendingPathComponent(rel).path
        if fm.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue { out.append((rel, try Data(contentsOf: URL(fileURLWithPath: p)))) }
    }
    return out.sorted { $0.0 < $1.0 }
}

/// FNV-1a over file names and contents (name, a zero byte, the bytes; files in name order).
public func digest(_ files: [(String, Data)]) -> UInt64 {
    var h = StableHash()
    for (name, data) in files {
        h.add(bytes: name.utf8)
        h.add(UInt8(0))
        h.add(bytes: data)
    }
    return h.value
}

/// Generates every `WorldVariants` world with `export` and checks the digest of the export's files
/// against `pinned` (format 5 first): the export writes what it wrote when it was pinned.
public func worldExportDigests(_ export: WorldExport) throws -> [UInt64] {
    try WorldVariants.all.map { format, config in
        let dir = TestPaths.tempDir("\(export.name)-world\(format)")
        try SceneWorld.synth(config: config, outDir: dir, exports: [export])
        return digest(try filesBelow(dir, only: Set(export.files)))
    }
}

/// A small world written with `plugin`'s export, and the catalog of a registry holding the plugin:
/// what a plugin's world tests read back through the plugin's own formats.
public func pluginWorld(_ plugin: HalluPlugin, export: WorldExport, trainImages: Int, evalImages: Int, seed: UInt64)
    throws -> (dir: URL, catalog: DataCatalog) {
    var c = WorldConfig()
    c.trainImages = trainImages
    c.evalImages = evalImages
    c.seed = seed
    let dir = TestPaths.tempDir("\(export.name)-world")
    try SceneWorld.synth(config: c, outDir: dir, exports: [export])
    let registry = PluginRegistry()
    try registry.register(plugin)
    return (dir, registry.data)
}
