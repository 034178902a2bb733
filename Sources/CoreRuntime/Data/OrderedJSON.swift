import Foundation

/// A JSON value that keeps object keys in order and strings exactly as written, with a writer whose
/// output is fully determined by the value (fixed number formatting, no dictionary order).
///
/// Key order matters to formats keyed by id (read in file order) and to a saved vocabulary (written
/// in id order). Exact strings matter to tokenizer.json: Swift's `String ==` treats canonically
/// equivalent strings as equal (precomposed "é" and "e" + U+0301), so a dictionary from
/// JSONSerialization can silently fold two distinct vocabulary entries into one; equality here
/// compares Unicode scalars.
public indirect enum OrderedJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case array([OrderedJSON])
    case object([(String, OrderedJSON)])

    public static func == (a: OrderedJSON, b: OrderedJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy {
                $0.0.unicodeScalars.elementsEqual($1.0.unicodeScalars) && $0.1 == $1.1
            }
        default: return false
        }
    }

    /// The value for `key` of an object (first match), or nil.
    public subscript(key: String) -> OrderedJSON? {
        if case .object(let kv) = self { return kv.first { $0.0 == key }?.1 }
        return nil
    }

    /// True for `null`.
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// The JSON kind, for error messages ("a string", "an object").
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    // MARK: writing

    /// Compact JSON text (", " and ": " separators, like Python's `json.dumps`).
    public func text() -> String {
        var b: [UInt8] = []
        write(into: &b, indent: nil, level: 0)
        return String(decoding: b, as: UTF8.self)
    }

    /// Indented JSON text (`indent` spaces per level). An array of at most `inlineArrays` plain
    /// values (no arrays or objects) stays on one line, as tokenizer.json writes merges and ids.
    public func pretty(indent: Int = 2, inlineArrays: Int = 0) -> String {
        var b: [UInt8] = []
        write(into: &b, indent: indent, level: 0, inlineArrays: inlineArrays)
        return String(decoding: b, as: UTF8.self)
    }

    private var isPlain: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private static func newline(_ b: inout [UInt8], _ indent: Int?, _ level: Int) {
        guard let n = indent else { return }
        b.append(0x0A)
        b.append(contentsOf: repeatElement(0x20, count: n * level))
    }

    /// Appends the UTF-8 JSON text of the value to `b`.
    func write(into b: inout [UInt8], indent: Int?, level: Int, inlineArrays: Int = 0) {
        switch self {
        case .null: b += Array("null".utf8)
        case .bool(let v): b += Array((v ? "true" : "false").utf8)
        case .int(let i): b += Array(String(i).utf8)
        case .number(let d): b += Array(Self.format(d).utf8)
        case .string(let t): Self.quote(t, into: &b)
        case .array(let items):
            if items.isEmpty { b += [0x5B, 0x5D]; return }
            let lineIndent = items.count <= inlineArrays && items.allSatisfy(\.isPlain) ? nil : indent
            b.append(0x5B)
            for (i, item) in items.enumerated() {
                if i > 0 { b.append(0x2C); if lineIndent == nil { b.append(0x20) } }
                Self.newline(&b, lineIndent, level + 1)
                item.write(into: &b, indent: indent, level: level + 1, inlineArrays: inlineArrays)
            }
            Self.newline(&b, lineIndent, level)
            b.append(0x5D)
        case .object(let kv):
            if kv.isEmpty { b += [0x7B, 0x7D]; return }
            b.append(0x7B)
            for (i, (k, v)) in kv.enumerated() {
                if i > 0 { b.append(0x2C); if indent == nil { b.append(0x20) } }
                Self.newline(&b, indent, level + 1)
                Self.quote(k, into: &b)
                b += [0x3A, 0x20]
                v.write(into: &b, indent: indent, level: level + 1, inlineArrays: inlineArrays)
            }
            Self.newline(&b, indent, level)
            b.append(0x7D)
        }
    }

    /// Numbers are written with Swift's shortest round-trip form, which does not depend on the C
    /// library; integral values keep a ".0" so readers see a float.
    static func format(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) + ".0" }
        return d.description
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func quote(_ t: String, into b: inout [UInt8]) {
        b.append(0x22)
        for c in t.utf8 {
            switch c {
            case 0x22: b += [0x5C, 0x22]
            case 0x5C: b += [0x5C, 0x5C]
            case 0x0A: b += [0x5C, 0x6E]
            case 0x0D: b += [0x5C, 0x72]
            case 0x09: b += [0x5C, 0x74]
            case 0..<0x20: b += [0x5C, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 15)]]
            default: b.append(c)
            }
        }
        b.append(0x22)
    }

    /// A JSON object written one key per line (`{"<key>": <value>, ...}`).
    public static func objectLinesText(_ entries: [(String, OrderedJSON)]) -> String {
        if entries.isEmpty { return "{}\n" }
        return "{\n" + entries.map { OrderedJSON.object([$0]).text().dropFirst().dropLast() }.joined(separator: ",\n") + "\n}\n"
    }

    /// A JSON list written one item per line: valid JSON that diffs and greps like JSON Lines.
    public static func listText(_ items: [OrderedJSON]) -> String {
        if items.isEmpty { return "[]\n" }
        var b: [UInt8] = [0x5B, 0x0A]
        for (i, item) in items.enumerated() {
            if i > 0 { b += [0x2C, 0x0A] }
            item.write(into: &b, indent: nil, level: 0)
        }
        b += [0x0A, 0x5D, 0x0A]
        return String(decoding: b, as: UTF8.self)
    }

    /// JSON Lines text: one compact value per line.
    public static func linesText(_ items: [OrderedJSON]) -> String {
        var b: [UInt8] = []
        for item in items { item.write(into: &b, indent: nil, level: 0); b.append(0x0A) }
        return String(decoding: b, as: UTF8.self)
    }

    // MARK: parsing

    /// Parses UTF-8 JSON text (a leading byte-order mark is skipped), keeping object key order and
    /// strings exactly as written. Errors name `path`, the line and the column.
    public static func parse(_ data: Data, path: String = "<json>") throws -> OrderedJSON {
        var p = Parser(bytes: [UInt8](data), path: path)
        if p.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { p.pos = 3 }
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.pos == p.end else { throw p.error("unexpected text after the JSON value") }
        return v
    }

    /// Parses JSON Lines: one value per non-blank line (LF or CRLF), with 1-based line numbers.
    public static func parseLines(_ data: Data, path: String = "<jsonl>") throws -> [(line: Int, value: OrderedJSON)] {
        var p = Parser(bytes: [UInt8](data), path: path)
        var out: [(Int, OrderedJSON)] = []
        var lineNo = 0
        var start = p.bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        let n = p.bytes.count
        while start < n {
            var stop = start
            while stop < n && p.bytes[stop] != 0x0A { stop += 1 }
            lineNo += 1
            p.pos = start
            p.end = stop
            p.lineBase = lineNo
            p.lineStart = start
            p.skipSpace()
            if p.pos < stop {
                let v = try p.value(depth: 0)
                p.skipSpace()
                guard p.pos == stop else { throw p.error("unexpected text after the JSON value") }
                out.append((lineNo, v))
            }
            start = stop + 1
        }
        return out
    }

    /// Reads and parses a file (gzip is undone transparently).
    public static func read(_ path: String) throws -> OrderedJSON {
        try parse(try JSONFiles.readData(path), path: path)
    }

    private struct Parser {
        let bytes: [UInt8]
        let path: String
        var pos = 0
        /// End of the text being parsed (the whole buffer, or one line of JSON Lines).
        var end: Int
        /// Line number of `lineStart` (for errors).
        var lineBase = 1
        var lineStart = 0

        init(bytes: [UInt8], path: String) { self.bytes = bytes; self.path = path; self.end = bytes.count }

        /// An error at the current position: the file, its line, and the column in characters.
        func error(_ msg: String) -> HalluError {
            var line = lineBase, column = 1
            for b in bytes[lineStart..<min(max(pos, lineStart), bytes.count)] {
                if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
            }
            return HalluError.file(path, line: line, "malformed JSON: \(msg) (column \(column))")
        }

        mutating func skipSpace() {
            while pos < end {
                let c = bytes[pos]
                guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
                pos += 1
            }
        }

        mutating func expect(_ word: String) throws {
            let w = Array(word.utf8)
            guard pos + w.count <= end, Array(bytes[pos..<(pos + w.count)]) == w else {
                throw error("expected \(word)")
            }
            pos += w.count
        }

        mutating func value(depth: Int) throws -> OrderedJSON {
            guard depth < 512 else { throw error("nesting too deep") }
            guard pos < end else { throw error("unexpected end of input") }
            switch bytes[pos] {
            case UInt8(ascii: "{"):
                pos += 1
                var kv: [(String, OrderedJSON)] = []
                skipSpace()
                if pos < end, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(kv) }
                while true {
                    skipSpace()
                    guard pos < end, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a key string") }
                    let k = try string()
                    skipSpace()
                    guard pos < end, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':' after key \"\(k)\"") }
                    pos += 1
                    skipSpace()
                    kv.append((k, try value(depth: depth + 1)))
                    skipSpace()
                    guard pos < end else { throw error("unterminated object") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(kv) }
                    throw error("expected ',' or '}' in object")
                }
            case UInt8(ascii: "["):
                pos += 1
                var items: [OrderedJSON] = []
                skipSpace()
                if pos < end, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard pos < end else { throw error("unterminated array") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                    throw error("expected ',' or ']' in array")
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw error("unexpected character '\(Character(UnicodeScalar(bytes[pos])))'")
            }
        }

        mutating func number() throws -> OrderedJSON {
            let start = pos
            var isFloat = false
            while pos < end {
                let c = bytes[pos]
                if (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") { pos += 1; continue }
                if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { isFloat = true; pos += 1; continue }
                break
            }
            let text = String(decoding: bytes[start..<pos], as: UTF8.self)
            if !isFloat, let i = Int(text) { return .int(i) }
            guard let d = Double(text) else { throw error("bad number \(text)") }
            return .number(d)
        }

        mutating func hex4() throws -> UInt32 {
            guard pos + 4 <= end else { throw error("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[pos]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw error("bad \\u escape")
                }
                v = v * 16 + d
                pos += 1
            }
            return v
        }

        /// A string token; invalid UTF-8 is an error rather than silently replaced.
        mutating func string() throws -> String {
            pos += 1
            // Fast path: no escapes before the closing quote.
            let start = pos
            while pos < end {
                let c = bytes[pos]
                if c == 0x22 {
                    pos += 1
                    return try validated(bytes[start..<(pos - 1)])
                }
                if c == 0x5C || c < 0x20 { break }
                pos += 1
            }
            var out = Array(bytes[start..<pos])
            while true {
                guard pos < end else { throw error("unterminated string") }
                let c = bytes[pos]
                if c == UInt8(ascii: "\"") { pos += 1; break }
                if c < 0x20 { throw error("control character in string") }
                pos += 1
                if c != UInt8(ascii: "\\") { out.append(c); continue }
                guard pos < end else { throw error("unterminated escape") }
                let e = bytes[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    // A high surrogate pairs with a following low one; otherwise the next escape is
                    // left to be read on its own.
                    if (0xD800..<0xDC00).contains(code), pos + 1 < end,
                       bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                        let save = pos
                        pos += 2
                        let low = try hex4()
                        if (0xDC00..<0xE000).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else { pos = save }
                    }
                    // A lone surrogate cannot be represented; U+FFFD is what decoders substitute too.
                    out += Array(String(Unicode.Scalar(code) ?? "\u{FFFD}").utf8)
                default: throw error("bad escape \\\(Character(UnicodeScalar(e)))")
                }
            }
            return try validated(out[...])
        }

        private func validated(_ utf8: ArraySlice<UInt8>) throws -> String {
            guard let s = String(validating: utf8, as: UTF8.self) else { throw error("string is not valid UTF-8") }
            return s
        }
    }
}

extension OrderedJSON {
    /// Builds an object from key-value pairs in the given order.
    public static func obj(_ pairs: KeyValuePairs<String, OrderedJSON>) -> OrderedJSON {
        .object(pairs.map { ($0.key, $0.value) })
    }

    /// A string list.
    public static func strings(_ items: [String]) -> OrderedJSON { .array(items.map { .string($0) }) }

    /// A number rounded to `digits` decimals, so files carry short, stable values.
    public static func rounded(_ d: Double, _ digits: Int = 4) -> OrderedJSON {
        var p = 1.0
        for _ in 0..<digits { p *= 10 }
        return .number((d * p).rounded() / p)
    }
}
