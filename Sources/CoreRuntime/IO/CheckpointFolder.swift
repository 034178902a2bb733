import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A model checkpoint folder in Hugging Face's layout: `config.json`, `model.safetensors` (or
/// shards with `model.safetensors.index.json`), `tokenizer.json`, `preprocessor_config.json`, and
/// optionally a LoRA adapter in the `adapter/` subfolder.
public struct CheckpointFolder: Sendable {
    public static let configFile = "config.json"
    public static let weightsFile = "model.safetensors"
    public static let tokenizerFile = "tokenizer.json"
    public static let preprocessorFile = "preprocessor_config.json"
    public static let adapterFolder = "adapter"

    /// The folder.
    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var configURL: URL { url.appendingPathComponent(Self.configFile) }
    public var weightsURL: URL { url.appendingPathComponent(Self.weightsFile) }
    public var weightsIndexURL: URL { url.appendingPathComponent(SafeTensorsIndex.fileName) }
    public var tokenizerURL: URL { url.appendingPathComponent(Self.tokenizerFile) }
    public var preprocessorURL: URL { url.appendingPathComponent(Self.preprocessorFile) }
    public var adapterURL: URL { url.appendingPathComponent(Self.adapterFolder) }

    /// Whether the folder holds an adapter (`adapter/adapter_config.json`).
    public var hasAdapter: Bool {
        FileManager.default.fileExists(atPath: adapterURL.appendingPathComponent(LoRAAdapter.configFileName).path)
    }

    /// Reads `config.json`.
    public func loadConfig() throws -> LlavaConfig {
        try requireFolder()
        return try LlavaConfig.load(configURL.path)
    }

    /// The weights file to read: `model.safetensors`, else the shard index.
    private func weightsSource() throws -> String {
        try requireFolder()
        let fm = FileManager.default
        if fm.fileExists(atPath: weightsURL.path) { return weightsURL.path }
        if fm.fileExists(atPath: weightsIndexURL.path) { return weightsIndexURL.path }
        throw HalluError.file(url.path, "no \(Self.weightsFile) or \(SafeTensorsIndex.fileName) in the checkpoint folder")
    }

    /// Reads all weights (one file or shards) as float32, renamed from any `LlavaWeightLayout`
    /// to hallu's names.
    public func loadWeights() throws -> [String: HostArray] {
        let source = try weightsSource()
        let raw = source.hasSuffix(".json") ? try SafeTensorsIndex(path: source).arrays() : try SafeTensors.read(source)
        return try LlavaWeightLayout.canonicalize(raw, file: source)
    }

    /// Weight shapes in hallu's names, reading only headers.
    public func loadWeightShapes() throws -> [String: [Int]] {
        let source = try weightsSource()
        let raw = source.hasSuffix(".json") ? try SafeTensorsIndex(path: source).shapes() : try SafeTensors.shapes(source)
        return try LlavaWeightLayout.canonicalize(raw, file: source)
    }

    /// Reads the weights and checks them against the tensors `config` needs, reporting every
    /// missing, unexpected and mis-shaped tensor at once. A stored LM head is accepted (and
    /// dropped) when the config ties it to the embeddings. A tensor holding NaN or infinite values
    /// is refused (or, with `.warn`, reported and loaded).
    public func loadWeights(checkedAgainst config: LlavaConfig, nonFinite: NonFiniteWeights = .refuse) throws -> [String: HostArray] {
        let arrays = try checked(loadWeights(), shape: \.shape, against: config)
        try nonFinite.check(arrays, file: try weightsSource())
        return arrays
    }

    /// The weights memory-mapped, not read: each tensor in its file's element type, in hallu's
    /// names, checked against `config` as `loadWeights(checkedAgainst:)` does (shapes from the
    /// headers, before any model memory is allocated). Pages are read from the page cache as they
    /// are used (or all at once with `MappedWeights.prefault`). NaN and infinite values are checked
    /// by `NonFiniteWeights.check(_:)` on the result.
    public func openWeights(checkedAgainst config: LlavaConfig) throws -> MappedWeights {
        let source = try weightsSource()
        var files: [SafeTensorsFile]
        if source.hasSuffix(".json") {
            files = try SafeTensorsIndex(path: source).openShards().sorted { $0.key < $1.key }.map(\.value)
        } else {
            files = [try SafeTensorsFile(path: source)]
        }
        var raw: [String: MappedWeights.Tensor] = [:]
        for file in files {
            for (name, entry) in file.entries { raw[name] = MappedWeights.Tensor(file: file, entry: entry) }
        }
        let tensors = try checked(LlavaWeightLayout.canonicalize(raw, file: source), shape: \.entry.shape, against: config)
        return MappedWeights(tensors: tensors, files: files)
    }

    /// Drops a stored LM head that `config` ties to the embeddings, checks names and shapes
    /// against the config (every problem at once), and drops the tensors hallu ignores.
    private func checked<V>(_ arrays: [String: V], shape: (V) -> [Int], against config: LlavaConfig) throws -> [String: V] {
        var arrays = arrays
        if config.text.tieWordEmbeddings { arrays["lm_head.weight"] = nil }
        try checkKeys(expected: config.expectedWeightShapes, found: arrays.mapValues(shape), file: try weightsSource())
        for name in CheckpointKeys.defaultIgnored.flatMap({ frag in arrays.keys.filter { $0.contains(frag) } }) {
            arrays[name] = nil
        }
        return arrays
    }

    /// Reads `preprocessor_config.json`, or nil when the folder has none.
    public func loadPreprocessor() throws -> ImageProcessorConfig? {
        guard FileManager.default.fileExists(atPath: preprocessorURL.path) else { return nil }
        return try ImageProcessorConfig.load(preprocessorURL.path)
    }

    /// Reads the adapter, or nil when the folder has none.
    public func loadAdapter() throws -> LoRAAdapter? {
        guard hasAdapter else { return nil }
        return try LoRAAdapter.load(from: adapterURL)
    }

    /// Reads `tokenizer.json`'s bytes, or nil when the folder has none.
    public func loadTokenizerJSON() throws -> Data? {
        guard FileManager.default.fileExists(atPath: tokenizerURL.path) else { return nil }
        return try JSONFiles.readData(tokenizerURL.path)
    }

    private func requireFolder() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw HalluError.file(url.path, "no such checkpoint folder")
        }
        guard isDir.boolValue else { throw HalluError.file(url.path, "is a file, not a checkpoint folder") }
    }

    /// Writes a complete checkpoint folder atomically: everything goes into a temporary folder
    /// beside `url`, which then replaces `url` in one step, so readers see the old checkpoint or
    /// the new one, never a mixture.
    /// - Parameters:
    ///   - arrays: weights in hallu's names; written in `layout` as `dtype`.
    ///   - tokenizerJSON: the bytes of `tokenizer.json`, if any.
    ///   - extraFiles: further files by relative name (e.g. optimizer state for a trainer checkpoint).
    ///   - maxShardBytes: when set and the weights are larger, they are sharded with an index.
    @discardableResult
    public static func save(arrays: [String: HostArray], config: LlavaConfig, to url: URL,
                            tokenizerJSON: Data? = nil, preprocessor: ImageProcessorConfig? = nil,
                            adapter: LoRAAdapter? = nil, extraFiles: [String: Data] = [:],
                            layout: LlavaWeightLayout = .default, dtype: SafeTensorsDType = .F32,
                            maxShardBytes: Int? = nil) throws -> CheckpointFolder {
        try config.validate(file: url.appendingPathComponent(configFile).path)
        let parent = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let tmp = parent.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: false)
        do {
            try config.save(to: tmp.appendingPathComponent(configFile))
            let renamed = layout.rename(arrays)
            let bytes = renamed.values.reduce(0) { $0 + $1.values.count * dtype.byteSize }
            if let limit = maxShardBytes, bytes > limit {
                try SafeTensorsIndex.write(renamed, to: tmp, maxShardBytes: limit, dtype: dtype)
            } else {
                try SafeTensors.write(renamed, to: tmp.appendingPathComponent(weightsFile), metadata: ["format": "pt"], dtype: dtype)
            }
            if let tokenizerJSON { try AtomicFile.write(tokenizerJSON, to: tmp.appendingPathComponent(tokenizerFile)) }
            if let preprocessor { try preprocessor.save(to: tmp.appendingPathComponent(preprocessorFile)) }
            if let adapter { try adapter.save(to: tmp.appendingPathComponent(adapterFolder), layout: layout) }
            for (name, data) in extraFiles.sorted(by: { $0.key < $1.key }) {
                let dest = tmp.appendingPathComponent(name).standardizedFileURL
                guard dest.path.hasPrefix(tmp.standardizedFileURL.path + "/") else {
                    throw HalluError.file(url.path, "extra file name \"\(name)\" leaves the checkpoint folder")
                }
                try AtomicFile.write(data, to: dest)
            }
            try replaceFolder(at: url, with: tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
        return CheckpointFolder(url)
    }

    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32

    /// glibc's renameat2, looked up at run time (older C libraries lack it).
    private static let renameat2: RenameAt2? = {
        guard let h = dlopen(nil, RTLD_NOW), let sym = dlsym(h, "renameat2") else { return nil }
        return unsafeBitCast(sym, to: RenameAt2.self)
    }()

    /// Puts `tmp` in place of `dest`. With RENAME_EXCHANGE the swap is a single atomic step;
    /// otherwise the old folder is moved aside first, leaving a short window with no folder.
    static func replaceFolder(at dest: URL, with tmp: URL) throws {
        let fm = FileManager.default
        if !fm.fileExists(atPath: dest.path) {
            guard rename(tmp.path, dest.path) == 0 else {
                throw HalluError.file(dest.path, "could not move the new checkpoint into place (\(String(cString: strerror(errno))))")
            }
            return
        }
        let atFDCWD: Int32 = -100, renameExchange: UInt32 = 2
        if let renameat2, renameat2(atFDCWD, tmp.path, atFDCWD, dest.path, renameExchange) == 0 {
            try? fm.removeItem(at: tmp)  // now holds the previous checkpoint
            return
        }
        let old = dest.deletingLastPathComponent()
            .appendingPathComponent(".\(dest.lastPathComponent).old-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        guard rename(dest.path, old.path) == 0 else {
            throw HalluError.file(dest.path, "could not move the previous checkpoint aside (\(String(cString: strerror(errno))))")
        }
        guard rename(tmp.path, dest.path) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = rename(old.path, dest.path)
            throw HalluError.file(dest.path, "could not move the new checkpoint into place (\(reason))")
        }
        try? fm.removeItem(at: old)
    }
}

/// What loading does with weights that hold NaN or infinite values: a model with them generates
/// nothing or garbage, and its evaluation would look perfect (no words, no hallucinations).
public enum NonFiniteWeights {
    /// Refuse the checkpoint, naming the first such tensor.
    case refuse
    /// Load it, reporting each such tensor through the closure (`--allow-nonfinite-weights`).
    case warn((String) -> Void)

    /// Applies the policy to `arrays` read from `file`.
    public func check(_ arrays: [String: HostArray], file: String) throws {
        for name in arrays.keys.sorted() {
            let values = arrays[name]!.values
            let bad = values.withUnsafeBufferPointer { b -> Int in
                var n = 0
                for v in b where !v.isFinite { n += 1 }
                return n
            }
            try report(name, bad: bad, of: values.count, file: file)
        }
    }

    /// Applies the policy to memory-mapped weights, reading each tensor in its stored type
    /// (16-bit values by their exponent bits, without widening them).
    public func check(_ weights: MappedWeights) throws {
        for name in weights.tensors.keys.sorted() {
            let t = weights.tensors[name]!
            let count = t.entry.shape.reduce(1, *)
            guard count > 0 else { continue }
            var bad = 0
            if let raw = t.file.elements(t.entry) {
                switch t.entry.dtype {
                case .F32:
                    for i in 0..<count where !raw.loadUnaligned(fromByteOffset: 4 * i, as: Float.self).isFinite { bad += 1 }
                case .F16:
                    for i in 0..<count where raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7C00 == 0x7C00 { bad += 1 }
                case .BF16:
                    for i in 0..<count where raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7F80 == 0x7F80 { bad += 1 }
                default:
                    bad = try t.file.array(name).values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
                }
            }
            try report(name, bad: bad, of: count, file: t.file.path)
        }
    }

    private func report(_ name: String, bad: Int, of count: Int, file: String) throws {
        guard bad > 0 else { return }
        let what = "tensor \"\(name)\" holds \(bad) NaN or infinite value\(bad == 1 ? "" : "s") (of \(count))"
        switch self {
        case .refuse:
            throw HalluError.file(file, "\(what); the checkpoint is damaged or its training diverged "
                + "(pass --allow-nonfinite-weights to load it anyway)")
        case .warn(let log):
            log("warning: \(file): \(what); loading it as --allow-nonfinite-weights asks")
        }
    }
}

/// The `checkpoint-<step>` folders a trainer writes into its run folder.
public enum TrainerCheckpoints {
    /// `checkpoint-<step>`.
    public static func folderName(step: Int) -> String { "checkpoint-\(step)" }

    /// The trainer checkpoints in `dir`, oldest step first. Other entries are ignored.
    public static func list(in dir: URL) -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)), step >= 0 else { return nil }
            return (step, dir.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// The checkpoint with the highest step, for resuming.
    public static func latest(in dir: URL) -> (step: Int, url: URL)? { list(in: dir).last }

    /// Deletes all but the newest `keepLast` checkpoints, and temporary folders that an
    /// interrupted save left behind. Returns what it deleted.
    @discardableResult
    public static func rotate(in dir: URL, keepLast: Int) throws -> [URL] {
        guard keepLast >= 0 else { throw HalluError("keep-last count must be non-negative, found \(keepLast)") }
        let all = list(in: dir)
        var doomed = all.dropLast(keepLast).map(\.url)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        doomed += names.filter { $0.hasPrefix(".checkpoint-") && ($0.contains(".tmp-") || $0.contains(".old-")) }
            .sorted().map { dir.appendingPathComponent($0) }
        for url in doomed {
            do { try FileManager.default.removeItem(at: url) } catch {
                throw HalluError.file(url.path, "could not delete old checkpoint: \(InputFile.describe(error))")
            }
        }
        return doomed
    }
}

/// A checkpoint's weights as memory-mapped tensors in their files' element types, by hallu's names.
public struct MappedWeights {
    /// One tensor: its file (which keeps the mapping alive) and its header entry.
    public struct Tensor {
        public let file: SafeTensorsFile
        public let entry: SafeTensorsEntry
    }

    public let tensors: [String: Tensor]
    /// The files the tensors live in.
    public let files: [SafeTensorsFile]

    /// Bytes of the tensors' elements as stored.
    public var byteCount: Int { tensors.values.reduce(0) { $0 + ($1.entry.end - $1.entry.begin) } }

    /// Maps every file's pages now (see `SafeTensorsFile.prefault`).
    public func prefault() { for f in files { f.prefault() } }
}
