import Foundation

/// A sweep file (`hallu sweep SWEEP.json`), as written by the user:
///
///     {"name": "eos-vs-dpo",
///      "base": {"preset": "tiny", "steps": 20},
///      "grid": {"method": ["sft", "a+b"], "lr": [1e-4, 3e-4]},
///      "list": [{"method": "a", "weight.a": 0.5}],
///      "seeds": [0, 1]}
///
/// Keys of `base`, `grid` and `list` are those of `hallu run --set`: trainer keys (`lr`,
/// `batch_size`), method options (`a.beta`), loss weights (`weight.a`), and `method`,
/// `preset`, `base`, `data`. Grid axes keep the file's order (the first varies slowest).
public struct SweepSpec: Equatable {
    /// One `KEY=VALUE` assignment, the value already rendered as `--set` reads it.
    public struct Assignment: Equatable {
        public var key: String
        public var value: String
        public init(_ key: String, _ value: String) { self.key = key; self.value = value }
    }

    public var name: String
    public var base: [Assignment]
    /// Axes in file order, each with its values.
    public var grid: [(key: String, values: [String])]
    /// Explicit cells, each a list of assignments.
    public var list: [[Assignment]]
    /// Seeds every cell is run with (nil: the seed of `base`, or the default).
    public var seeds: [UInt64]?

    public init(name: String, base: [Assignment] = [], grid: [(key: String, values: [String])] = [],
                list: [[Assignment]] = [], seeds: [UInt64]? = nil) {
        self.name = name; self.base = base; self.grid = grid; self.list = list; self.seeds = seeds
    }

    public static func == (a: SweepSpec, b: SweepSpec) -> Bool {
        a.name == b.name && a.base == b.base && a.list == b.list && a.seeds == b.seeds
            && a.grid.count == b.grid.count && zip(a.grid, b.grid).allSatisfy { $0.key == $1.key && $0.values == $1.values }
    }

    /// Keys the sweep itself sets for every cell.
    static let reservedKeys: Set<String> = ["name", "runs_dir"]

    /// Reads and checks a sweep file; errors name the file and the key.
    public static func load(_ path: String) throws -> SweepSpec {
        let json = try OrderedJSON.read(path)
        let fallback = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try parse(json, path: path, defaultName: fallback)
    }

    /// Checks a parsed sweep file. `path` only labels errors.
    public static func parse(_ json: OrderedJSON, path: String, defaultName: String) throws -> SweepSpec {
        guard case .object(let top) = json else { throw HalluError.file(path, "expected a JSON object") }
        let known = ["name", "base", "grid", "list", "seeds"]
        for (k, _) in top where !known.contains(k) {
            let hint = Suggest.nearest(k, in: known).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw HalluError.file(path, "unknown key \"\(k)\"\(hint); a sweep file has \(known.joined(separator: ", "))")
        }
        var spec = SweepSpec(name: defaultName)
        if let n = json["name"] {
            guard case .string(let s) = n else { throw HalluError.file(path, "\"name\": expected a string") }
            spec.name = s
        }
        guard !spec.name.isEmpty, spec.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-+".contains($0)) }),
              !spec.name.hasPrefix(".") else {
            throw HalluError.file(path, "\"name\": \"\(spec.name)\" must be a folder name of letters, digits and . _ - +")
        }
        if let b = json["base"] { spec.base = try assignments(b, path: path, at: "base", flattenNested: true) }
        if let g = json["grid"] {
            guard case .object(let axes) = g else { throw HalluError.file(path, "\"grid\": expected an object of KEY: [values]") }
            for (k, v) in axes {
                try checkKey(k, path: path, at: "grid")
                guard case .array(let items) = v, !items.isEmpty else {
                    throw HalluError.file(path, "grid \"\(k)\": expected a non-empty list of values")
                }
                let values = try items.map { try render($0, path: path, at: "grid \"\(k)\"") }
                if let dup = firstDuplicate(values) { throw HalluError.file(path, "grid \"\(k)\": value \(dup) appears twice") }
                spec.grid.append((k, values))
            }
        }
        if let l = json["list"] {
            guard case .array(let cells) = l else { throw HalluError.file(path, "\"list\": expected a list of objects") }
            for (i, c) in cells.enumerated() {
                guard case .object = c else { throw HalluError.file(path, "list item \(i): expected an object") }
                spec.list.append(try assignments(c, path: path, at: "list item \(i)", flattenNested: true))
            }
        }
        if let s = json["seeds"] {
            guard case .array(let items) = s, !items.isEmpty else { throw HalluError.file(path, "\"seeds\": expected a non-empty list of integers") }
            spec.seeds = try items.map {
                guard case .int(let v) = $0, v >= 0 else { throw HalluError.file(path, "\"seeds\": expected non-negative integers, got \($0.text())") }
                return UInt64(v)
            }
            if let dup = firstDuplicate(spec.seeds!.map(String.init)) { throw HalluError.file(path, "\"seeds\": seed \(dup) appears twice") }
            if spec.grid.contains(where: { $0.key == "seed" }) { throw HalluError.file(path, "give seeds either in \"seeds\" or as a grid axis \"seed\", not both") }
        }
        return spec
    }

    static func firstDuplicate(_ xs: [String]) -> String? {
        var seen = Set<String>()
        for x in xs { if !seen.insert(x).inserted { return x } }
        return nil
    }

    static func checkKey(_ k: String, path: String, at: String) throws {
        if reservedKeys.contains(k) { throw HalluError.file(path, "\(at): \"\(k)\" is set by the sweep for each cell") }
        guard !k.isEmpty, !k.contains("=") else { throw HalluError.file(path, "\(at): invalid key \"\(k)\"") }
    }

    /// An object of assignments. Nested objects under `method_options` / `weights` (and `<method>`)
    /// become dotted keys, so both `{"a.beta": 0.2}` and `{"method_options": {"a": {"beta": 0.2}}}` work.
    static func assignments(_ v: OrderedJSON, path: String, at: String, flattenNested: Bool) throws -> [Assignment] {
        guard case .object(let kv) = v else { throw HalluError.file(path, "\"\(at)\": expected an object of run config keys") }
        var out: [Assignment] = []
        for (k, value) in kv {
            try checkKey(k, path: path, at: at)
            if case .object(let inner) = value, flattenNested {
                switch k {
                case "method_options":
                    for (m, opts) in inner {
                        guard case .object(let o) = opts else { throw HalluError.file(path, "\(at) \"method_options.\(m)\": expected an object") }
                        for (ok, ov) in o { out.append(Assignment("\(m).\(ok)", try render(ov, path: path, at: "\(at) \"\(m).\(ok)\""))) }
                    }
                case "weights":
                    for (m, w) in inner { out.append(Assignment("weight.\(m)", try render(w, path: path, at: "\(at) \"weight.\(m)\""))) }
                default:
                    for (ok, ov) in inner { out.append(Assignment("\(k).\(ok)", try render(ov, path: path, at: "\(at) \"\(k).\(ok)\""))) }
                }
                continue
            }
            out.append(Assignment(k, try render(value, path: path, at: "\(at) \"\(k)\"")))
        }
        if let dup = firstDuplicate(out.map(\.key)) { throw HalluError.file(path, "\(at): key \"\(dup)\" is given twice") }
        return out
    }

    /// A JSON value as the string `RunConfig.set` parses: integers without a fraction, other
    /// numbers in Swift's shortest round-trip form, lists joined by commas.
    static func render(_ v: OrderedJSON, path: String, at: String) throws -> String {
        switch v {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .number(let d):
            guard d.isFinite else { throw HalluError.file(path, "\(at): number out of range") }
            if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
            return d.description
        case .bool(let b): return b ? "true" : "false"
        case .array(let items): return try items.map { try render($0, path: path, at: at) }.joined(separator: ",")
        case .null: throw HalluError.file(path, "\(at): null is not a value (leave the key out for its default)")
        case .object: throw HalluError.file(path, "\(at): expected a string, number, boolean or list")
        }
    }
}
