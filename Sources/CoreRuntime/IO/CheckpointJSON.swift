import Foundation

/// Decoding and encoding of the JSON files in a checkpoint folder (config.json,
/// preprocessor_config.json, adapter_config.json) with errors that name the file and the key path.
public enum CheckpointJSON {
    /// Decodes `T` from the file at `path`. A `DecodingError` becomes a `HalluError` such as
    /// `config.json: text_config.hidden_size: missing`.
    public static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        try decode(type, from: try JSONFiles.readData(path), file: path)
    }

    /// Decodes `T` from JSON bytes; `file` names the source in errors.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw HalluError.file(file, describe(error))
        }
    }

    /// Encodes `value` as pretty JSON with sorted keys (byte-stable) and atomically writes it.
    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        try AtomicFile.write(try encode(value), to: url)
    }

    /// Pretty JSON with sorted keys and a final newline.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// "text_config.hidden_size: missing", "image_mean[2]: expected a number, found a string", ...
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let ctx):
            return "\(keyPath(ctx.codingPath + [key])): missing"
        case .valueNotFound(let type, let ctx):
            return "\(keyPath(ctx.codingPath)): expected \(typeName(type)), found null"
        case .typeMismatch(let type, let ctx):
            if ctx.codingPath.isEmpty { return "expected a JSON object" }
            return "\(keyPath(ctx.codingPath)): expected \(typeName(type))\(found(ctx.debugDescription))"
        case .dataCorrupted(let ctx):
            if ctx.codingPath.isEmpty {
                let detail = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
                return "malformed JSON: \(detail ?? ctx.debugDescription)"
            }
            return "\(keyPath(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    static func keyPath(_ path: [CodingKey]) -> String {
        var out = ""
        for key in path {
            if let i = key.intValue, key.stringValue == "Index \(i)" || key.stringValue == "\(i)" {
                out += "[\(i)]"
            } else {
                out += (out.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return out.isEmpty ? "<top level>" : out
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a value of type \(name)"
        }
    }

    /// Pulls "found a string" out of Foundation's "Expected to decode Int but found a string instead."
    private static func found(_ debug: String) -> String {
        guard let r = debug.range(of: "but found ") else { return "" }
        var rest = debug[r.upperBound...]
        if let end = rest.range(of: " instead") { rest = rest[..<end.lowerBound] }
        return ", found " + rest
    }
}

/// A coding key made from any string; the JSON files here use Hugging Face's snake_case names.
struct JSONKey: CodingKey, ExpressibleByStringLiteral {
    let stringValue: String
    let intValue: Int?
    init(_ s: String) { stringValue = s; intValue = nil }
    init(stringLiteral s: String) { self.init(s) }
    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { stringValue = "\(intValue)"; self.intValue = intValue }
}

extension KeyedDecodingContainer where Key == JSONKey {
    /// A value that must be present.
    func required<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T {
        try decode(T.self, forKey: JSONKey(key))
    }

    /// A value that may be absent or null.
    func optional<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T? {
        try decodeIfPresent(T.self, forKey: JSONKey(key))
    }

    /// A value that may be absent or null, with Hugging Face's default.
    func optional<T: Decodable>(_ key: String, default value: T) throws -> T {
        try decodeIfPresent(T.self, forKey: JSONKey(key)) ?? value
    }

    /// The error for a present value that breaks a rule, located at `key`.
    func invalid(_ key: String, _ problem: String) -> DecodingError {
        .dataCorrupted(.init(codingPath: codingPath + [JSONKey(key)], debugDescription: problem))
    }

    /// Requires a positive integer no larger than `max` (a model size from config.json).
    func size(_ key: String, max: Int = LlavaConfig.maxDimension) throws -> Int {
        let v: Int = try required(key)
        if v <= 0 { throw invalid(key, "must be positive, found \(v)") }
        if v > max { throw invalid(key, "must be at most \(max), found \(v)") }
        return v
    }

    /// Requires a positive integer.
    func positive(_ key: String) throws -> Int {
        let v: Int = try required(key)
        if v <= 0 { throw invalid(key, "must be positive, found \(v)") }
        return v
    }
}
