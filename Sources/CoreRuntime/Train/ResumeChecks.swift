import Foundation

extension Trainer {
    /// Checks a checkpoint's trainer state against this run before trusting it: its step within the
    /// run's length and equal to the checkpoint's, its loss history one entry per step, and every
    /// data stream a permutation of the data this run loaded.
    func checkResumedState(_ s: TrainerState, from checkpoint: URL) throws {
        let file = checkpoint.appendingPathComponent("trainer_state.json").path
        let folderStep = Int(checkpoint.lastPathComponent.dropFirst("step-".count))
        guard s.step >= 0, s.step <= totalSteps else {
            throw HalluError.file(file, "step \(s.step) is beyond this run's \(totalSteps) steps; the checkpoint is not from this run's "
                + "configuration (resume with the steps it was started with, or start a new run)")
        }
        if let folderStep, folderStep != s.step {
            throw HalluError.file(file, "step \(s.step) does not match its folder \(checkpoint.lastPathComponent); the checkpoint is damaged")
        }
        guard s.lossHistory.count == s.step else {
            throw HalluError.file(file, "holds \(s.lossHistory.count) losses for \(s.step) steps; the checkpoint is damaged")
        }
        let kinds = Set(self.kinds.map(\.rawValue))
        for (key, stream) in s.streams.sorted(by: { $0.key < $1.key }) {
            guard kinds.contains(key) else {
                throw HalluError.file(file, "has a data stream \"\(key)\" that this run's methods do not read; the checkpoint is from another run")
            }
            let n = context.data.count(DataKind(key))
            guard stream.fits(dataCount: n) else {
                throw HalluError.file(file, "its \(key) data stream does not fit the \(n) \(key) samples loaded now "
                    + "(the data changed since the checkpoint, or the file is damaged)")
            }
        }
    }
}

/// The training log `metrics.jsonl`: one JSON object per optimiser step, with its `step`.
public enum MetricsLog {
    /// Keeps the lines of steps up to `step` and drops the rest: lines of steps trained again after a
    /// resume, and a last line cut short by a crash (no final newline, or not JSON). The file is
    /// rewritten atomically, and only when something goes.
    public static func cut(_ url: URL, throughStep step: Int) throws {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let data = try InputFile.read(url.path)
        var kept = Data()
        var changed = false
        var start = data.startIndex
        while start < data.endIndex {
            guard let nl = data[start...].firstIndex(of: 0x0A) else { changed = true; break }  // torn last line
            let line = data[start..<nl]
            start = nl + 1
            if let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
               let s = (obj["step"] as? NSNumber)?.intValue, s <= step {
                kept.append(line)
                kept.append(0x0A)
            } else {
                changed = true
            }
        }
        if changed { try AtomicFile.write(kept, to: url) }
    }
}
