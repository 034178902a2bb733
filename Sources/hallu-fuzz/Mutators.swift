import CoreRuntime
import Foundation

/// The random source of one fuzz case: a fixed function of the run's seed and the case's index, so
/// any case can be made again from those two numbers.
struct FuzzRNG {
    var g: SeededRNG
    init(seed: UInt64, index: Int) { g = SeededRNG(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15)) }
    mutating func int(_ n: Int) -> Int { n <= 1 ? 0 : Int(g.next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { g.nextDouble() < p }
    mutating func pick<T>(_ items: [T]) -> T { items[int(items.count)] }
}

/// Values at the edges of what readers must handle.
enum Edge {
    static let ints: [Int] = [0, -1, 1, 2, 3, 7, 8, 15, 16, 255, 256, 65_535, 65_536, 1 << 24, Int(Int32.max), Int(Int32.max) + 1,
                              Int(UInt32.max), 1 << 32, 1 << 40, 1 << 53, 1 << 62, Int.max, Int.min, -(1 << 31), -(1 << 62)]
    static let doubles: [Double] = [0.5, -0.5, 1e308, -1e308, 1e-320, 3.5, 1e19, -1e19, 2.5e-8]
    static let strings: [String] = ["", "x", "../../../etc/passwd", "/etc/passwd", "a/../../b", "..", ".", "/", "nul\u{0}byte",
                                    String(repeating: "A", count: 4000), "é", "e\u{301}", "<image>", "NaN", "1e999", "-1",
                                    "bogus", "images/../../x.png", "/dev/zero", "\u{FEFF}", "\\", "a b c"]
}

/// Structured mutations of JSON documents: values at chosen nodes replaced by edge values or other
/// types, keys deleted, duplicated or added, arrays emptied or grown, nesting deepened.
enum JSONMutator {
    enum Step { case pair(Int), item(Int) }

    static func paths(_ v: OrderedJSON, _ prefix: [Step] = [], into out: inout [[Step]], limit: Int = 4000) {
        out.append(prefix)
        guard out.count < limit else { return }
        switch v {
        case .object(let kv): for (i, p) in kv.enumerated() { paths(p.1, prefix + [.pair(i)], into: &out, limit: limit) }
        case .array(let items): for (i, x) in items.enumerated() where i < 64 { paths(x, prefix + [.item(i)], into: &out, limit: limit) }
        default: break
        }
    }

    static func get(_ v: OrderedJSON, _ path: ArraySlice<Step>) -> OrderedJSON {
        guard let first = path.first else { return v }
        switch (first, v) {
        case (.pair(let i), .object(let kv)) where i < kv.count: return get(kv[i].1, path.dropFirst())
        case (.item(let i), .array(let a)) where i < a.count: return get(a[i], path.dropFirst())
        default: return v
        }
    }

    static func set(_ v: inout OrderedJSON, _ path: ArraySlice<Step>, _ f: (inout OrderedJSON) -> Void) {
        guard let first = path.first else { f(&v); return }
        switch (first, v) {
        case (.pair(let i), .object(var kv)) where i < kv.count:
            set(&kv[i].1, path.dropFirst(), f); v = .object(kv)
        case (.item(let i), .array(var a)) where i < a.count:
            set(&a[i], path.dropFirst(), f); v = .array(a)
        default: break
        }
    }

    static func edgeValue(_ rng: inout FuzzRNG) -> OrderedJSON {
        switch rng.int(9) {
        case 0, 1, 2: return .int(rng.pick(Edge.ints))
        case 3: return .number(rng.pick(Edge.doubles))
        case 4, 5: return .string(rng.pick(Edge.strings))
        case 6: return rng.chance(0.5) ? .null : .bool(rng.chance(0.5))
        case 7: return rng.chance(0.5) ? .array([]) : .object([])
        default:
            var x: OrderedJSON = .int(1)
            for _ in 0..<(rng.chance(0.5) ? 3 : 600) { x = .array([x]) }
            return x
        }
    }

    /// One mutation at a random node.
    static func mutateOnce(_ doc: inout OrderedJSON, _ rng: inout FuzzRNG) {
        var all: [[Step]] = []
        paths(doc, into: &all)
        let path = rng.pick(all)
        let node = get(doc, path[...])
        set(&doc, path[...]) { v in
            switch (node, rng.int(10)) {
            case (.int(let i), 0...4):
                v = .int(rng.chance(0.6) ? rng.pick(Edge.ints) : [i &+ 1, i &- 1, 0 &- i, i &* 1000, i &* 65_536].randomElement(using: &rng.g)!)
            case (.number, 0...3): v = .number(rng.pick(Edge.doubles))
            case (.string(let s), 0...4):
                v = rng.chance(0.7) ? .string(rng.pick(Edge.strings)) : .string(s + s)
            case (.object(var kv), 0...5) where !kv.isEmpty:
                let i = rng.int(kv.count)
                switch rng.int(4) {
                case 0: kv.remove(at: i)
                case 1: kv.append((kv[i].0, edgeValue(&rng)))          // duplicated key
                case 2: kv.append(("unknown_" + String(rng.int(100)), edgeValue(&rng)))
                default: kv[i].1 = edgeValue(&rng)
                }
                v = .object(kv)
            case (.array(var a), 0...5):
                switch rng.int(5) {
                case 0: a = []
                case 1: if !a.isEmpty { a.remove(at: rng.int(a.count)) }
                case 2: if !a.isEmpty { a.append(a[rng.int(a.count)]) }
                case 3: a += Array(repeating: edgeValue(&rng), count: rng.chance(0.8) ? 1 : 3000)
                default: if !a.isEmpty { a[rng.int(a.count)] = edgeValue(&rng) }
                }
                v = .array(a)
            default:
                v = edgeValue(&rng)
            }
        }
    }

    static func mutate(_ doc: OrderedJSON, _ rng: inout FuzzRNG) -> OrderedJSON {
        var d = doc
        for _ in 0..<(1 + rng.int(3)) { mutateOnce(&d, &rng) }
        return d
    }

    /// JSON text, duplicated keys included; numbers as Swift prints them (so 1e308 stays a number
    /// and a NaN becomes invalid JSON, another case for the reader).
    static func text(_ v: OrderedJSON) -> String {
        var out = ""
        write(v, &out)
        return out
    }

    private static func write(_ v: OrderedJSON, _ out: inout String) {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .number(let d): out += "\(d)"
        case .string(let s): out += SafeTensors.jsonString(s)
        case .array(let items):
            out += "["
            for (i, x) in items.enumerated() { if i > 0 { out += "," }; write(x, &out) }
            out += "]"
        case .object(let kv):
            out += "{"
            for (i, p) in kv.enumerated() {
                if i > 0 { out += "," }
                out += SafeTensors.jsonString(p.0) + ":"
                write(p.1, &out)
            }
            out += "}"
        }
    }

    /// Mutates JSON text: structurally when it parses (most of the time), else or sometimes byte-wise.
    static func mutate(text: Data, _ rng: inout FuzzRNG) -> Data {
        if rng.chance(0.85), let doc = try? OrderedJSON.parse(text) {
            return Data(self.text(mutate(doc, &rng)).utf8)
        }
        var b = [UInt8](text)
        ByteMutator.mutate(&b, &rng)
        return Data(b)
    }
}

/// Byte-level mutations: flips, edge bytes, truncation, insertion, repetition.
enum ByteMutator {
    static func mutate(_ b: inout [UInt8], _ rng: inout FuzzRNG, region: Range<Int>? = nil) {
        let r = region ?? 0..<b.count
        guard !r.isEmpty else { b.append(UInt8(rng.int(256))); return }
        for _ in 0..<(1 + rng.int(3)) {
            let i = r.lowerBound + rng.int(r.count)
            guard i < b.count else { continue }
            switch rng.int(7) {
            case 0: b[i] ^= UInt8(1 << rng.int(8))
            case 1: b[i] = rng.pick([0x00, 0xFF, 0x7F, 0x80, 0x01, 0x22, 0x5C, 0x7B, 0x7D])
            case 2: b.removeSubrange(i...)                              // truncate
            case 3: b.insert(contentsOf: (0..<(1 + rng.int(16))).map { _ in UInt8(rng.int(256)) }, at: i)
            case 4: let end = min(b.count, i + 1 + rng.int(64)); b.insert(contentsOf: b[i..<end], at: i)
            case 5: let end = min(b.count, i + 1 + rng.int(64)); b.removeSubrange(i..<end)
            default: b[i] = UInt8(rng.int(256))
            }
        }
    }
}

extension OrderedJSON {
    /// Parses without a file name (the fuzz tool mutates its own documents).
    static func parse(_ data: Data) throws -> OrderedJSON { try OrderedJSON.parse(data, path: "<fuzz>") }
}
