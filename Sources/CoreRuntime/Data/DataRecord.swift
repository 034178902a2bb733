import Foundation

/// One record of a data file with typed accessors whose errors name the file, the line (JSON Lines)
/// or item (JSON list), and the key. Parsed with `OrderedJSON` (pure Swift, no Foundation bridging,
/// which dominates the cost of reading tens of thousands of records on Linux).
public struct DataRecord {
    public let file: String
    /// "line 7", "item 7", or a nested location such as "line 7, conversations[1]".
    public let location: String
    public let fields: [(String, OrderedJSON)]

    public init(file: String, location: String, fields: [(String, OrderedJSON)]) {
        self.file = file; self.location = location; self.fields = fields
    }

    /// An error naming the file, the record's location and what is wrong.
    public func fail(_ msg: String) -> HalluError { HalluError("\(file): \(location): \(msg)") }

    /// The raw value of a key (nil when absent; JSON null is `.null`).
    public subscript(key: String) -> OrderedJSON? { fields.first { $0.0 == key }?.1 }

    /// The value of a key, nil when absent or null.
    public func present(_ key: String) -> OrderedJSON? {
        guard let v = self[key] else { return nil }
        if case .null = v { return nil }
        return v
    }

    func required(_ key: String) throws -> OrderedJSON {
        guard let v = present(key) else { throw fail("missing required key \"\(key)\"") }
        return v
    }

    /// Whether the key is present and not null.
    public func has(_ key: String) -> Bool { present(key) != nil }

    /// A required string.
    public func string(_ key: String) throws -> String {
        guard case .string(let s) = try required(key) else { throw fail("\"\(key)\" must be a string") }
        return s
    }

    /// An optional string (absent or null gives nil).
    public func optionalString(_ key: String) throws -> String? {
        guard let v = present(key) else { return nil }
        guard case .string(let s) = v else { throw fail("\"\(key)\" must be a string") }
        return s
    }

    /// A required id that may be written as a string or an integer.
    public func id(_ key: String) throws -> String {
        switch try required(key) {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .number(let d) where d == d.rounded() && abs(d) < 1e15: return String(Int64(d))
        default: throw fail("\"\(key)\" must be a string or an integer")
        }
    }

    /// A required integer.
    public func int(_ key: String) throws -> Int {
        switch try required(key) {
        case .int(let i): return i
        case .number(let d) where d == d.rounded() && abs(d) < 1e15: return Int(d)
        default: throw fail("\"\(key)\" must be an integer")
        }
    }

    /// An optional number (absent or null gives nil).
    public func optionalNumber(_ key: String) throws -> Double? {
        switch present(key) {
        case nil: return nil
        case .int(let i)?: return Double(i)
        case .number(let d)?: return d
        default: throw fail("\"\(key)\" must be a number")
        }
    }

    /// A required boolean.
    public func bool(_ key: String) throws -> Bool {
        guard case .bool(let b) = try required(key) else { throw fail("\"\(key)\" must be true or false") }
        return b
    }

    /// A required list of objects, each as a nested record located as "<location>, key[i]".
    public func objects(_ key: String) throws -> [DataRecord] {
        guard case .array(let items) = try required(key) else { throw fail("\"\(key)\" must be a list") }
        return try items.enumerated().map { i, item in
            guard case .object(let kv) = item else { throw fail("\"\(key)\"[\(i)] must be an object") }
            return DataRecord(file: file, location: "\(location), \(key)[\(i)]", fields: kv)
        }
    }

    /// A required list of strings; a single string is accepted as a one-item list.
    public func strings(_ key: String) throws -> [String] {
        switch try required(key) {
        case .string(let s): return [s]
        case .array(let items):
            return try items.enumerated().map { i, item in
                guard case .string(let s) = item else { throw fail("\"\(key)\"[\(i)] must be a string") }
                return s
            }
        default: throw fail("\"\(key)\" must be a list of strings")
        }
    }

    /// A required list of integers.
    public func ints(_ key: String) throws -> [Int] {
        guard case .array(let items) = try required(key) else { throw fail("\"\(key)\" must be a list of integers") }
        return try items.enumerated().map { i, item in
            guard case .int(let n) = item else { throw fail("\"\(key)\"[\(i)] must be an integer") }
            return n
        }
    }

    /// Reads every record of a JSON list or a JSON Lines file (LF or CRLF; `.gz` undone).
    public static func readAll(_ path: String) throws -> [DataRecord] {
        let data = try JSONFiles.readData(path)
        let first = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        if first == UInt8(ascii: "[") {
            guard case .array(let items) = try OrderedJSON.parse(data, path: path) else {
                throw HalluError.file(path, "expected a JSON list")
            }
            return try items.enumerated().map { i, item in
                guard case .object(let kv) = item else { throw HalluError.file(path, "item \(i + 1) is not a JSON object") }
                return DataRecord(file: path, location: "item \(i + 1)", fields: kv)
            }
        }
        return try OrderedJSON.parseLines(data, path: path).map { line, value in
            guard case .object(let kv) = value else { throw HalluError.file(path, line: line, "expected a JSON object") }
            return DataRecord(file: path, location: "line \(line)", fields: kv)
        }
    }
}
