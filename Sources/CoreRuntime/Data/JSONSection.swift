import Foundation

/// Typed access to one object of a JSON document (tokenizer.json and its components), with errors
/// that name the file and the dotted key path.
struct JSONSection {
    let value: OrderedJSON
    let file: String
    /// Dotted location inside the file, e.g. "model.vocab".
    let keyPath: String

    func fail(_ msg: String) -> HalluError {
        HalluError.file(file, keyPath.isEmpty ? msg : "\(keyPath): \(msg)")
    }

    private func child(_ key: String) -> String { keyPath.isEmpty ? key : "\(keyPath).\(key)" }

    /// The raw value under `key`, nil when absent or null.
    func optional(_ key: String) -> OrderedJSON? {
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
        case let .number(d) where d == d.rounded() && abs(d) < 9e15: return Int(d)
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
