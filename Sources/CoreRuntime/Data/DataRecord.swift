import Foundation

/// One record of a data file with typed accessors whose errors name the file, the line (JSON Lines)
/// or item (JSON list), and the key.
public struct DataRecord {
    public let file: String
    /// "line 7" or "item 7".
    public let location: String
    public let values: [String: Any]

    func fail(_ msg: String) -> HalluError { HalluError("\(file): \(location): \(msg)") }

    /// JSON booleans arrive as NSNumber; their Objective-C type code is "c" (char).
    static func isBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    /// A required string.
    public func string(_ key: String) throws -> String {
        guard let v = values[key], !(v is NSNull) else { throw fail("missing required key \"\(key)\"") }
        guard let s = v as? String else { throw fail("\"\(key)\" must be a string") }
        return s
    }

    /// An optional string (absent or null gives nil).
    public func optionalString(_ key: String) throws -> String? {
        guard let v = values[key], !(v is NSNull) else { return nil }
        guard let s = v as? String else { throw fail("\"\(key)\" must be a string") }
        return s
    }

    /// A required id that may be written as a string or an integer.
    public func id(_ key: String) throws -> String {
        guard let v = values[key], !(v is NSNull) else { throw fail("missing required key \"\(key)\"") }
        if let s = v as? String { return s }
        if let n = v as? NSNumber, !Self.isBool(n) {
            let d = n.doubleValue
            if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
        }
        throw fail("\"\(key)\" must be a string or an integer")
    }

    /// A required integer.
    public func int(_ key: String) throws -> Int {
        guard let v = values[key], !(v is NSNull) else { throw fail("missing required key \"\(key)\"") }
        if let n = v as? NSNumber, !Self.isBool(n), n.doubleValue == n.doubleValue.rounded() {
            return n.intValue
        }
        throw fail("\"\(key)\" must be an integer")
    }

    /// An optional number (absent or null gives nil).
    public func optionalNumber(_ key: String) throws -> Double? {
        guard let v = values[key], !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, !Self.isBool(n) else { throw fail("\"\(key)\" must be a number") }
        return n.doubleValue
    }

    /// A required boolean.
    public func bool(_ key: String) throws -> Bool {
        guard let v = values[key], !(v is NSNull) else { throw fail("missing required key \"\(key)\"") }
        guard let n = v as? NSNumber, Self.isBool(n) else { throw fail("\"\(key)\" must be true or false") }
        return n.boolValue
    }

    /// A required list of objects.
    public func objects(_ key: String) throws -> [[String: Any]] {
        guard let v = values[key], !(v is NSNull) else { throw fail("missing required key \"\(key)\"") }
        guard let list = v as? [Any] else { throw fail("\"\(key)\" must be a list") }
        return try list.enumerated().map { i, item in
            guard let d = item as? [String: Any] else { throw fail("\"\(key)\"[\(i)] must be an object") }
            return d
        }
    }

    /// A required list of strings; a single string is accepted as a one-item list.
    public func strings(_ key: String) throws -> [String] {
        guard let v = values[key], !(v is NSNull) else { throw fail("missing required key \"\(key)\"") }
        if let s = v as? String { return [s] }
        guard let list = v as? [Any] else { throw fail("\"\(key)\" must be a list of strings") }
        return try list.enumerated().map { i, item in
            guard let s = item as? String else { throw fail("\"\(key)\"[\(i)] must be a string") }
            return s
        }
    }

    /// A nested record (for objects inside lists), located as "<location>, <key>[i]".
    func nested(_ values: [String: Any], _ label: String) -> DataRecord {
        DataRecord(file: file, location: "\(location), \(label)", values: values)
    }

    /// Reads every record of a JSON list or JSON Lines file.
    public static func readAll(_ path: String) throws -> [DataRecord] {
        let data = try JSONFiles.readData(path)
        let first = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        if first == UInt8(ascii: "[") {
            return try JSONFiles.readRecords(path).map { DataRecord(file: path, location: "item \($0.line)", values: $0.record) }
        }
        return try JSONFiles.readJSONLines(path).map { DataRecord(file: path, location: "line \($0.line)", values: $0.record) }
    }
}
