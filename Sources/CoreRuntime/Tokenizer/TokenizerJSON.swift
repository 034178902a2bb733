import Foundation

/// A JSON value that keeps object keys in file order and strings exactly as written.
///
/// tokenizer.json needs both: Swift's `String ==` treats canonically equivalent strings as equal
/// (precomposed "é" and "e" + U+0301), so a `[String: Any]` from JSONSerialization can silently fold
/// two distinct vocabulary entries into one; and a saved vocabulary reads best in id order.
indirect enum TokenizerJSON: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([TokenizerJSON])
    case object([(String, TokenizerJSON)])

    static func == (a: TokenizerJSON, b: TokenizerJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.string(x), .string(y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy {
                $0.0.unicodeScalars.elementsEqual($1.0.unicodeScalars) && $0.1 == $1.1
            }
        default: return false
        }
    }

    /// The value under `key` of an object (first occurrence), nil for other kinds or a missing key.
    subscript(key: String) -> TokenizerJSON? {
        guard case let .object(entries) = self else { return nil }
        return entries.first { $0.0 == key }?.1
    }

    var isNull: Bool { if case .null = self { return true } else { return false } }

    /// The JSON kind, for error messages.
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

// MARK: - Parsing

extension TokenizerJSON {
    /// Parses UTF-8 JSON text; errors name `path` and the line and column.
    static func parse(_ data: Data, path: String) throws -> TokenizerJSON {
        var parser = Parser(bytes: [UInt8](data), path: path)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        if parser.i < parser.bytes.count { throw parser.fail("unexpected text after the JSON value") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        let path: String
        var i = 0

        init(bytes: [UInt8], path: String) {
            self.bytes = bytes
            self.path = path
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        }

        func fail(_ msg: String) -> HalluError {
            var line = 1, col = 1
            for b in bytes[0..<min(i, bytes.count)] {
                if b == UInt8(ascii: "\n") { line += 1; col = 1 } else if b & 0xC0 != 0x80 { col += 1 }
            }
            return HalluError.file(path, line: line, "malformed JSON at column \(col): \(msg)")
        }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func expect(_ word: String, _ v: TokenizerJSON) throws -> TokenizerJSON {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw fail("invalid literal") }
            i += w.count
            return v
        }

        mutating func value(depth: Int) throws -> TokenizerJSON {
            guard depth < 512 else { throw fail("nesting too deep") }
            guard i < bytes.count else { throw fail("unexpected end of file") }
            switch bytes[i] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "n"): return try expect("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func object(depth: Int) throws -> TokenizerJSON {
            i += 1
            var entries: [(String, TokenizerJSON)] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(entries) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key string") }
                let key = try string()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                skipSpace()
                entries.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of file in an object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(entries) }
                throw fail("expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws -> TokenizerJSON {
            i += 1
            var items: [TokenizerJSON] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of file in an array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= bytes.count else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw fail("bad \\u escape")
                }
                v = v * 16 + d
                i += 1
            }
            return v
        }

        mutating func string() throws -> String {
            i += 1
            var out: [UInt8] = []
            while true {
                guard i < bytes.count else { throw fail("unterminated string") }
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c < 0x20 { throw fail("control character in a string") }
                if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
                i += 1
                guard i < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[i]
                i += 1
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
                    if (0xD800..<0xDC00).contains(code), i + 1 < bytes.count,
                       bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                        let save = i
                        i += 2
                        let low = try hex4()
                        if (0xDC00..<0xE000).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else { i = save }
                    }
                    // A lone surrogate cannot be represented; U+FFFD is what decoders substitute too.
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(scalar).utf8))
                default: throw fail("unknown escape \\\(Character(Unicode.Scalar(e)))")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
            return s
        }

        mutating func number() throws -> TokenizerJSON {
            let start = i
            var isInt = true
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            while i < bytes.count {
                let c = bytes[i]
                if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") { i += 1; continue }
                if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
                    || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") { isInt = false; i += 1; continue }
                break
            }
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            if isInt, let v = Int(text) { return .int(v) }
            guard let d = Double(text) else { throw fail("bad number \(text)") }
            return .double(d)
        }
    }
}

// MARK: - Writing

extension TokenizerJSON {
    /// Serialises with two-space indentation; short arrays of plain values stay on one line.
    func serialized() -> String {
        var out = ""
        write(into: &out, indent: 0)
        out += "\n"
        return out
    }

    private var isPlain: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private func write(into out: inout String, indent: Int) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(v): out += String(v)
        case let .double(d):
            if d.isFinite { out += d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : "\(d)" } else { out += "null" }
        case let .string(s): TokenizerJSON.writeString(s, into: &out)
        case let .array(items):
            if items.isEmpty { out += "[]"; return }
            if items.count <= 16 && items.allSatisfy(\.isPlain) {
                out += "["
                for (k, item) in items.enumerated() {
                    if k > 0 { out += ", " }
                    item.write(into: &out, indent: indent)
                }
                out += "]"
                return
            }
            let pad = String(repeating: "  ", count: indent + 1)
            out += "[\n"
            for (k, item) in items.enumerated() {
                out += pad
                item.write(into: &out, indent: indent + 1)
                out += k + 1 < items.count ? ",\n" : "\n"
            }
            out += String(repeating: "  ", count: indent) + "]"
        case let .object(entries):
            if entries.isEmpty { out += "{}"; return }
            let pad = String(repeating: "  ", count: indent + 1)
            out += "{\n"
            for (k, (key, value)) in entries.enumerated() {
                out += pad
                TokenizerJSON.writeString(key, into: &out)
                out += ": "
                value.write(into: &out, indent: indent + 1)
                out += k + 1 < entries.count ? ",\n" : "\n"
            }
            out += String(repeating: "  ", count: indent) + "}"
        }
    }

    private static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    out += String(format: "\\u%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}

/// Typed access to one object of a tokenizer.json, with errors that name the file and the key path.
struct JSONSection {
    let value: TokenizerJSON
    let file: String
    /// Dotted location inside the file, e.g. "model.vocab".
    let keyPath: String

    func fail(_ msg: String) -> HalluError {
        HalluError.file(file, keyPath.isEmpty ? msg : "\(keyPath): \(msg)")
    }

    private func child(_ key: String) -> String { keyPath.isEmpty ? key : "\(keyPath).\(key)" }

    /// The raw value under `key`, nil when absent or null.
    func optional(_ key: String) -> TokenizerJSON? {
        guard let v = value[key], !v.isNull else { return nil }
        return v
    }

    func has(_ key: String) -> Bool { optional(key) != nil }

    func section(_ key: String) throws -> JSONSection {
        guard let v = optional(key) else { throw HalluError.missingKey(child(key), in: file) }
        return JSONSection(value: v, file: file, keyPath: child(key))
    }

    func optionalSection(_ key: String) -> JSONSection? {
        optional(key).map { JSONSection(value: $0, file: file, keyPath: child(key)) }
    }

    func string(_ key: String) throws -> String {
        guard let v = optional(key) else { throw HalluError.missingKey(child(key), in: file) }
        guard case let .string(s) = v else { throw HalluError.file(file, "\(child(key)): expected a string, found \(v.kindName)") }
        return s
    }

    func optionalString(_ key: String) throws -> String? {
        guard let v = optional(key) else { return nil }
        guard case let .string(s) = v else { throw HalluError.file(file, "\(child(key)): expected a string, found \(v.kindName)") }
        return s
    }

    func int(_ key: String) throws -> Int {
        guard let v = optional(key) else { throw HalluError.missingKey(child(key), in: file) }
        return try JSONSection(value: v, file: file, keyPath: child(key)).asInt()
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard optional(key) != nil else { return nil }
        return try int(key)
    }

    func bool(_ key: String, default def: Bool) throws -> Bool {
        guard let v = optional(key) else { return def }
        guard case let .bool(b) = v else { throw HalluError.file(file, "\(child(key)): expected true or false, found \(v.kindName)") }
        return b
    }

    func asInt() throws -> Int {
        switch value {
        case let .int(i): return i
        case let .double(d) where d == d.rounded() && abs(d) < 9e15: return Int(d)
        default: throw fail("expected an integer, found \(value.kindName)")
        }
    }

    func asString() throws -> String {
        guard case let .string(s) = value else { throw fail("expected a string, found \(value.kindName)") }
        return s
    }

    func items() throws -> [JSONSection] {
        guard case let .array(a) = value else { throw fail("expected an array, found \(value.kindName)") }
        return a.enumerated().map { JSONSection(value: $1, file: file, keyPath: "\(keyPath)[\($0)]") }
    }

    func entries() throws -> [(String, JSONSection)] {
        guard case let .object(e) = value else { throw fail("expected an object, found \(value.kindName)") }
        return e.map { ($0.0, JSONSection(value: $0.1, file: file, keyPath: child($0.0))) }
    }

    /// `type` of a component object; the name that an "unsupported" error reports.
    func typeName() throws -> String {
        guard case .object = value else { throw fail("expected an object, found \(value.kindName)") }
        return try string("type")
    }

    /// A pattern written as {"String": s} or {"Regex": r}.
    func pattern(_ key: String) throws -> (literal: String?, regex: String?) {
        let p = try section(key)
        if let s = try p.optionalString("String") { return (s, nil) }
        if let r = try p.optionalString("Regex") { return (nil, r) }
        throw p.fail("expected {\"String\": ...} or {\"Regex\": ...}")
    }
}
