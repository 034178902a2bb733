import Foundation

/// Reading JSON and JSON Lines with errors that name the file and line.
public enum JSONFiles {
    /// Reads a whole file, transparently un-gzipping `.gz` files.
    public static func readData(_ path: String) throws -> Data {
        let data = try InputFile.read(path)
        if path.hasSuffix(".gz") { return try Gzip.decompress(data, path: path) }
        return data
    }

    /// Parses a file holding one JSON value.
    public static func readJSON(_ path: String) throws -> Any {
        let data = try readData(path)
        do { return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw HalluError.file(path, "malformed JSON: \(describe(error))")
        }
    }

    /// Parses a JSON Lines file into one dictionary per non-empty line, with its 1-based line number.
    public static func readJSONLines(_ path: String) throws -> [(line: Int, record: [String: Any])] {
        let data = try readData(path)
        guard String(data: data, encoding: .utf8) != nil else {
            throw HalluError.file(path, "not UTF-8 text")
        }
        var out: [(Int, [String: Any])] = []
        var lineNo = 0
        // Split on the newline byte: as Characters, "\r\n" is a single grapheme and would not split.
        for raw in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNo += 1
            let line = Data(raw)
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let obj: Any
            do { obj = try JSONSerialization.jsonObject(with: line) } catch {
                throw HalluError.file(path, line: lineNo, "malformed JSON: \(describe(error))")
            }
            guard let dict = obj as? [String: Any] else {
                throw HalluError.file(path, line: lineNo, "expected a JSON object")
            }
            out.append((lineNo, dict))
        }
        return out
    }

    /// Reads either a JSON array of objects or JSON Lines, whichever the file holds.
    public static func readRecords(_ path: String) throws -> [(line: Int, record: [String: Any])] {
        let data = try readData(path)
        let firstByte = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        if firstByte == UInt8(ascii: "[") {
            let any = try readJSON(path)
            guard let list = any as? [Any] else { throw HalluError.file(path, "expected a JSON array") }
            return try list.enumerated().map { i, item in
                guard let d = item as? [String: Any] else {
                    throw HalluError.file(path, "item \(i) is not a JSON object")
                }
                return (i + 1, d)
            }
        }
        return try readJSONLines(path)
    }

    /// What JSONSerialization found wrong, without Foundation's generic wording.
    public static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if let d = ns.userInfo[NSDebugDescriptionErrorKey] as? String, !d.isEmpty { return d }
        return "not valid JSON text"
    }
}
