import Foundation

/// Comparing the tensors a model expects with the tensors a checkpoint holds.
public enum CheckpointKeys {
    /// Names that checkpoints may carry but no model needs: rotary frequency buffers, which older
    /// exports saved although they are recomputed from the config.
    public static let defaultIgnored = ["rotary_emb.inv_freq"]

    /// How many names of each kind an error message lists before summarising the rest.
    static let listLimit = 40

    /// Throws one `HalluError` that lists every missing name, every unexpected name and every shape
    /// mismatch (with both shapes), so a wrong checkpoint is diagnosed in one run.
    /// - Parameter ignoring: a name containing any of these fragments is neither missing nor unexpected.
    public static func check(expected: [String: [Int]], found: [String: [Int]], file: String,
                             ignoring: [String] = defaultIgnored) throws {
        func ignored(_ name: String) -> Bool { ignoring.contains { name.contains($0) } }
        let missing = expected.keys.filter { found[$0] == nil && !ignored($0) }.sorted()
        let unexpected = found.keys.filter { expected[$0] == nil && !ignored($0) }.sorted()
        let mismatched = expected.keys.sorted().compactMap { name -> String? in
            guard let want = expected[name], let have = found[name], want != have else { return nil }
            return "\(name): expected \(want), found \(have)"
        }
        if missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty { return }
        var parts: [String] = []
        if !missing.isEmpty { parts.append("\(missing.count) missing: \(summarise(missing))") }
        if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected: \(summarise(unexpected))") }
        if !mismatched.isEmpty { parts.append("\(mismatched.count) with the wrong shape: \(summarise(mismatched))") }
        throw HalluError.file(file, "tensors do not match the model; " + parts.joined(separator: "; "))
    }

    private static func summarise(_ items: [String]) -> String {
        if items.count <= listLimit { return items.joined(separator: ", ") }
        return items.prefix(listLimit).joined(separator: ", ") + ", and \(items.count - listLimit) more"
    }
}

/// Strict key checking (see `CheckpointKeys.check`).
public func checkKeys(expected: [String: [Int]], found: [String: [Int]], file: String,
                      ignoring: [String] = CheckpointKeys.defaultIgnored) throws {
    try CheckpointKeys.check(expected: expected, found: found, file: file, ignoring: ignoring)
}
