import Foundation

/// Reads the record files the evaluators take: a JSON array of objects or JSON Lines, with errors that
/// name the file and line. Unlike a split on Swift `Character`s, the line split here also ends lines
/// at "\r\n" (a single Character in Swift), which POPE's popular and adversarial files use.
enum EvalRecords {
    static func read(_ path: String) throws -> [(line: Int, record: [String: Any])] {
        let data = try JSONFiles.readData(path)
        let firstByte = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        if firstByte == UInt8(ascii: "[") { return try JSONFiles.readRecords(path) }
        var out: [(Int, [String: Any])] = []
        var lineNo = 0
        for raw in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNo += 1
            var line = raw
            while let last = line.last, last == 0x0D || last == 0x20 || last == 0x09 { line = line.dropLast() }
            while let first = line.first, first == 0x20 || first == 0x09 || first == 0x0D { line = line.dropFirst() }
            if line.isEmpty { continue }
            let object: Any
            do { object = try JSONSerialization.jsonObject(with: Data(line)) } catch {
                throw HalluError.file(path, line: lineNo, "malformed JSON: \(JSONFiles.describe(error))")
            }
            guard let dict = object as? [String: Any] else {
                throw HalluError.file(path, line: lineNo, "expected a JSON object")
            }
            out.append((lineNo, dict))
        }
        return out
    }
}
