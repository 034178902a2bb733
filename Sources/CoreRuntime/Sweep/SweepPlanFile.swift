import Foundation

/// `plan.json`: the expanded sweep, written (atomically) before any cell runs, and read back by
/// `hallu sweep report` and by each `--cell K` job.
///
///     {"name": "...", "cells": [{"index": 0, "id": "sft_lr=0.0001_s0", "key": "<configuration key>",
///       "label": "sft, lr=0.0001", "seed": 0, "assignments": [["lr", "0.0001"]], "config": {<run config>}}, ...],
///      "configurations": [{"key", "label", "cells": ["<cell id>", ...]}]}
extension SweepPlan {
    public static let fileName = "plan.json"

    /// The plan as JSON (sorted keys inside objects, cells in plan order).
    public func jsonObject() throws -> [String: Any] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var cellList: [[String: Any]] = []
        for c in cells {
            let config = try JSONSerialization.jsonObject(with: enc.encode(c.config))
            cellList.append(["index": c.index, "id": c.id, "key": c.key, "label": c.label, "seed": c.seed,
                             "assignments": c.assignments.map { [$0.key, $0.value] }, "config": config])
        }
        let configs: [[String: Any]] = configurations.map { ["key": $0.key, "label": $0.label, "cells": $0.cells.map { cells[$0].id }] }
        return ["name": name, "cells": cellList, "configurations": configs]
    }

    /// Writes `plan.json` into a sweep folder atomically.
    public func write(to dir: URL) throws {
        try AtomicFile.writeJSON(try jsonObject(), to: dir.appendingPathComponent(Self.fileName))
    }

    /// Reads `plan.json` from a sweep folder.
    public static func read(from dir: URL) throws -> SweepPlan {
        let path = dir.appendingPathComponent(fileName).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw HalluError.file(dir.path, "no \(fileName) here: not a sweep folder (run `hallu sweep FILE` first)")
        }
        guard let top = try JSONFiles.readJSON(path) as? [String: Any] else { throw HalluError.file(path, "expected a JSON object") }
        guard let name = top["name"] as? String else { throw HalluError.missingKey("name", in: path) }
        guard let list = top["cells"] as? [[String: Any]] else { throw HalluError.missingKey("cells", in: path) }
        var cells: [SweepCell] = []
        for (i, c) in list.enumerated() {
            func need<T>(_ k: String, _ t: T.Type) throws -> T {
                guard let v = c[k] as? T else { throw HalluError.file(path, "cell \(i): missing or invalid key \"\(k)\"") }
                return v
            }
            let pairs = try need("assignments", [[String]].self)
            guard pairs.allSatisfy({ $0.count == 2 }) else { throw HalluError.file(path, "cell \(i): \"assignments\" must be [key, value] pairs") }
            let configObject = try need("config", [String: Any].self)
            let config: RunConfig
            do { config = try JSONDecoder().decode(RunConfig.self, from: JSONSerialization.data(withJSONObject: configObject)) } catch {
                throw HalluError.file(path, "cell \(i): invalid \"config\": \(error)")
            }
            let seed = try need("seed", NSNumber.self).uint64Value
            cells.append(SweepCell(index: i, id: try need("id", String.self), seed: seed,
                                   assignments: pairs.map { SweepSpec.Assignment($0[0], $0[1]) }, config: config,
                                   key: try need("key", String.self), label: try need("label", String.self)))
        }
        return SweepPlan(name: name, cells: cells)
    }
}
