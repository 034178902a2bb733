import Foundation

/// Precomputed reference log-probs, cached in the run folder (`reference_logps.json`), so that a
/// preference run needs no reference forward pass per step. Entries are keyed by the content of a
/// pair (not its id, which datasets may repeat), and the file records a fingerprint of the reference
/// weights: a file written for other weights is recomputed rather than trusted.
extension DPO {
    /// The name of the cache file in the run folder.
    public static let referenceCacheFile = "reference_logps.json"

    /// The cache key of a pair: a hash of everything that determines its reference log-probs.
    public static func cacheKey(_ p: PreferencePair) -> String {
        var h = StableHash()
        for field in [p.image ?? "", p.question, p.chosen, p.rejected] { h.add(field); h.add(0xFF as UInt8) }
        return h.hex
    }

    /// A fingerprint of the reference's weights (names, shapes and bits).
    public static func referenceFingerprint(_ reference: ReferencePolicy) -> String {
        var h = StableHash()
        for (name, t) in reference.parameters.sorted(by: { $0.0 < $1.0 }) {
            h.add(name)
            for d in t.shape { h.add(UInt64(d)) }
            let bits = UnsafeRawPointer(t.data).assumingMemoryBound(to: UInt32.self)
            for i in 0..<t.count { h.add(UInt64(bits[i])) }
        }
        return h.hex
    }

    /// Computes the reference log-probs of every pair once (in batches of `batchSize`), reusing what
    /// the run folder's cache already holds for the same reference weights, and writes the cache.
    /// Returns how many distinct pairs were computed and how many were loaded from the file.
    @discardableResult
    public static func precomputeReference(_ pairs: [PreferencePair], _ ctx: TrainContext, batchSize: Int = 16) throws -> (computed: Int, loaded: Int) {
        guard batchSize > 0 else { throw HalluError("precompute_reference: batch size must be positive, got \(batchSize)") }
        let file = ctx.runDir.appendingPathComponent(referenceCacheFile)
        let reference = try ctx.reference
        let fingerprint = referenceFingerprint(reference)
        var entries = try loadReferenceCache(file, fingerprint: fingerprint, log: ctx.log)
        let loaded = entries.count
        var seen = Set(entries.keys)
        let todo = pairs.filter { seen.insert(cacheKey($0)).inserted }
        for start in stride(from: 0, to: todo.count, by: batchSize) {
            let chunk = Array(todo[start..<min(start + batchSize, todo.count)])
            let (inputs, _) = try ctx.preferenceInputs(chunk)
            let ref = try reference.logProbs(inputs, context: ctx)
            for (i, p) in chunk.enumerated() {
                guard ref[i].isFinite, ref[chunk.count + i].isFinite else {
                    throw HalluError("pair \(p.id): reference log-prob is not finite (chosen \(ref[i]), rejected \(ref[chunk.count + i]))")
                }
                entries[cacheKey(p)] = (p.id, ref[i], ref[chunk.count + i])
            }
        }
        for (k, v) in entries { reference.cache[k] = (v.chosen, v.rejected) }
        if !todo.isEmpty {
            let json: [String: Any] = [
                "format": 1, "reference": fingerprint,
                "pairs": entries.mapValues { ["id": $0.id, "chosen": Double($0.chosen), "rejected": Double($0.rejected)] },
            ]
            try AtomicFile.writeJSON(json, to: file, pretty: false)
        }
        ctx.log("reference log-probs: \(todo.count) computed, \(loaded) loaded from \(referenceCacheFile)")
        return (todo.count, loaded)
    }

    /// Entries of an existing cache file written for the same reference weights (empty when there is
    /// no file or the weights differ). A malformed file is an error naming it.
    static func loadReferenceCache(_ file: URL, fingerprint: String, log: (String) -> Void) throws
        -> [String: (id: String, chosen: Float, rejected: Float)] {
        guard FileManager.default.fileExists(atPath: file.path) else { return [:] }
        guard let root = try JSONFiles.readJSON(file.path) as? [String: Any], root["format"] as? Int == 1,
              let pairs = root["pairs"] as? [String: Any] else {
            throw HalluError.file(file.path, "not a reference log-prob cache (expected {\"format\": 1, \"reference\", \"pairs\"}); delete it to recompute")
        }
        guard root["reference"] as? String == fingerprint else {
            log("reference log-probs in \(referenceCacheFile) were computed with other weights; recomputing")
            return [:]
        }
        var out: [String: (id: String, chosen: Float, rejected: Float)] = [:]
        for (key, value) in pairs {
            guard let e = value as? [String: Any], let c = (e["chosen"] as? NSNumber)?.floatValue,
                  let r = (e["rejected"] as? NSNumber)?.floatValue, c.isFinite, r.isFinite else {
                throw HalluError.file(file.path, "entry \"\(key)\": expected finite \"chosen\" and \"rejected\" numbers")
            }
            out[key] = (e["id"] as? String ?? "", c, r)
        }
        return out
    }
}
