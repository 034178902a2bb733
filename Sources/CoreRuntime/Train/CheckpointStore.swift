import Foundation

/// Training checkpoints `checkpoint/step-<N>/`: trained weights, optimiser state and trainer state,
/// each written into a temporary folder that is renamed into place, so a crash never leaves a
/// half-written checkpoint; only the newest `keepLast` are kept.
public struct CheckpointStore {
    public let dir: URL
    public let keepLast: Int

    public struct Saved {
        public var weights: [String: Tensor]
        public var optimizer: [String: Tensor]
        public var state: TrainerState
    }

    /// Finished checkpoints, oldest first.
    public func all() -> [URL] {
        let items = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return items.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("step-"), let n = Int(name.dropFirst(5)) else { return nil }
            let u = dir.appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: u.appendingPathComponent("trainer_state.json").path) ? (n, u) : nil
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    public func latest() -> URL? { all().last }

    public func save(step: Int, weights: [String: Tensor], optimizer: [String: Tensor], state: TrainerState) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let final = dir.appendingPathComponent("step-\(step)")
        let tmp = dir.appendingPathComponent(".tmp-step-\(step)-\(getpid())")
        try? fm.removeItem(at: tmp)
        try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        try TensorFile.save(weights, to: tmp.appendingPathComponent("weights.safetensors"))
        try TensorFile.save(optimizer, to: tmp.appendingPathComponent("optimizer.safetensors"))
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try AtomicFile.write(enc.encode(state), to: tmp.appendingPathComponent("trainer_state.json"))
        try? fm.removeItem(at: final)
        try fm.moveItem(at: tmp, to: final)
        for old in all().dropLast(max(keepLast, 1)) { try? fm.removeItem(at: old) }
    }

    public func load(_ url: URL) throws -> Saved {
        let state: TrainerState
        let path = url.appendingPathComponent("trainer_state.json").path
        do { state = try JSONDecoder().decode(TrainerState.self, from: JSONFiles.readData(path)) } catch let e as HalluError { throw e } catch {
            throw HalluError.file(path, "unreadable trainer state: \(error)")
        }
        return Saved(weights: try TensorFile.load(url.appendingPathComponent("weights.safetensors")),
                     optimizer: try TensorFile.load(url.appendingPathComponent("optimizer.safetensors")), state: state)
    }
}
