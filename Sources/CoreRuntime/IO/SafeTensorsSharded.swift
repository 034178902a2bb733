import Foundation

/// A checkpoint split over several safetensors files, described by an index file
/// (`model.safetensors.index.json`: `{"metadata": {...}, "weight_map": {tensor name: shard file}}`).
public struct SafeTensorsIndex {
    /// The conventional index file name of a sharded model.
    public static let fileName = "model.safetensors.index.json"

    /// Path of the index file.
    public let path: String
    /// The index's `metadata` object (e.g. `total_size`), as parsed JSON.
    public let metadata: [String: Any]
    /// Shard file name (relative to the index's folder) for each tensor.
    public let weightMap: [String: String]

    /// Reads and checks an index file; shard names must be plain file names in the same folder.
    public init(path: String) throws {
        self.path = path
        guard let top = try JSONFiles.readJSON(path) as? [String: Any] else {
            throw HalluError.file(path, "expected a JSON object")
        }
        guard let rawMap = top["weight_map"] else { throw HalluError.missingKey("weight_map", in: path) }
        guard let map = rawMap as? [String: Any] else {
            throw HalluError.file(path, "weight_map: expected an object of tensor name -> file name")
        }
        var weightMap: [String: String] = [:]
        for (name, file) in map {
            guard let f = file as? String else {
                throw HalluError.file(path, "weight_map.\(name): expected a file name string")
            }
            guard !f.isEmpty, !f.contains("/"), f != ".", f != ".." else {
                throw HalluError.file(path, "weight_map.\(name): \"\(f)\" is not a file name in the index's folder")
            }
            weightMap[name] = f
        }
        if let m = top["metadata"], !(m is NSNull), !(m is [String: Any]) {
            throw HalluError.file(path, "metadata: expected an object")
        }
        self.metadata = top["metadata"] as? [String: Any] ?? [:]
        self.weightMap = weightMap
    }

    /// The folder that holds the index and its shards.
    public var folder: URL { URL(fileURLWithPath: path).deletingLastPathComponent() }

    /// Shard file names, sorted.
    public var shardFiles: [String] { Array(Set(weightMap.values)).sorted() }

    /// Opens every shard and checks that each holds exactly the tensors the index assigns to it.
    public func openShards() throws -> [String: SafeTensorsFile] {
        var files: [String: SafeTensorsFile] = [:]
        for shard in shardFiles {
            let file = try SafeTensorsFile(path: folder.appendingPathComponent(shard).path)
            let listed = Set(weightMap.filter { $0.value == shard }.keys)
            let present = Set(file.entries.keys)
            if let missing = listed.subtracting(present).sorted().first {
                throw HalluError.file(path, "weight_map puts \"\(missing)\" in \(shard), which does not hold it")
            }
            if let extra = present.subtracting(listed).sorted().first {
                let elsewhere = weightMap[extra].map { "assigns to \($0)" } ?? "does not list"
                throw HalluError.file(file.path, "holds \"\(extra)\", which \(SafeTensorsIndex.fileName) \(elsewhere)")
            }
            files[shard] = file
        }
        return files
    }

    /// Shapes of every tensor, reading only the shards' headers.
    public func shapes() throws -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for file in try openShards().values { out.merge(file.shapes) { a, _ in a } }
        return out
    }

    /// Reads every tensor of every shard.
    public func arrays() throws -> [String: HostArray] {
        var out: [String: HostArray] = [:]
        for file in try openShards().values { out.merge(try file.arrays()) { a, _ in a } }
        return out
    }

    /// Writes arrays as shards of at most `maxShardBytes` each (a tensor larger than that gets a shard
    /// of its own) named `<prefix>-0000i-of-0000n.safetensors`, plus `<prefix>.safetensors.index.json`.
    /// Tensors are assigned in name order, so the split is deterministic. Returns the index URL.
    @discardableResult
    public static func write(_ arrays: [String: HostArray], to folder: URL, maxShardBytes: Int,
                             prefix: String = "model", dtype: SafeTensorsDType = .F32,
                             metadata: [String: String] = ["format": "pt"]) throws -> URL {
        let names = arrays.keys.sorted()
        var groups: [[String]] = []
        var current: [String] = []
        var currentBytes = 0
        var totalBytes = 0
        var totalParameters = 0
        for name in names {
            let bytes = arrays[name]!.values.count * dtype.byteSize
            if !current.isEmpty && currentBytes + bytes > maxShardBytes {
                groups.append(current)
                current = []
                currentBytes = 0
            }
            current.append(name)
            currentBytes += bytes
            totalBytes += bytes
            totalParameters += arrays[name]!.values.count
        }
        if !current.isEmpty || groups.isEmpty { groups.append(current) }

        var weightMap: [String: String] = [:]
        for (i, group) in groups.enumerated() {
            let file = "\(prefix)-\(zeroPadded(i + 1))-of-\(zeroPadded(groups.count)).safetensors"
            var subset: [String: HostArray] = [:]
            for name in group { subset[name] = arrays[name]!; weightMap[name] = file }
            try SafeTensors.write(subset, to: folder.appendingPathComponent(file), metadata: metadata, dtype: dtype)
        }
        let indexURL = folder.appendingPathComponent("\(prefix).safetensors.index.json")
        try AtomicFile.writeJSON(["metadata": ["total_size": totalBytes, "total_parameters": totalParameters], "weight_map": weightMap], to: indexURL)
        return indexURL
    }

    private static func zeroPadded(_ n: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, 5 - s.count)) + s
    }
}
