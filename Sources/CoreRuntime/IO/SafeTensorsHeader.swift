import Foundation

/// Parsing and checking of the JSON header of a safetensors file.
struct SafeTensorsHeader {
    struct RawTensor {
        let name: String
        let dtype: String
        let shape: [Int]
        let offsets: [Int]
    }

    var metadata: [String: String] = [:]
    var tensors: [RawTensor] = []

    /// Parses the header bytes; every failure names the file and, where there is one, the tensor.
    /// A name listed twice is an error (JSON readers disagree on which entry wins).
    static func parse(_ data: Data, path: String) throws -> SafeTensorsHeader {
        guard String(data: data, encoding: .utf8) != nil else {
            throw HalluError.file(path, "malformed header: not UTF-8 text")
        }
        let json: OrderedJSON
        do { json = try OrderedJSON.parse(data, path: path) } catch let e as HalluError {
            let detail = e.message.range(of: "malformed JSON: ").map { String(e.message[$0.upperBound...]) } ?? e.message
            throw HalluError.file(path, "malformed header JSON: \(detail)")
        }
        guard case .object(let top) = json else { throw HalluError.file(path, "malformed header: expected a JSON object") }
        var header = SafeTensorsHeader()
        var seen = Set<String>()
        for (name, value) in top {
            func fail(_ problem: String) -> HalluError {
                HalluError.file(path, "malformed header: " + (name == "__metadata__" ? problem : "tensor \"\(name)\": \(problem)"))
            }
            guard seen.insert(name).inserted else { throw fail("listed twice (each tensor name must appear once)") }
            if name == "__metadata__" {
                if case .null = value { continue }
                guard case .object(let pairs) = value else { throw fail("__metadata__ must map strings to strings") }
                for (k, v) in pairs {
                    guard case .string(let text) = v else { throw fail("__metadata__ must map strings to strings") }
                    guard header.metadata.updateValue(text, forKey: k) == nil else { throw fail("__metadata__ lists \"\(k)\" twice") }
                }
                continue
            }
            guard case .object(let fields) = value else { throw fail("entry is not a JSON object") }
            var keys = Set<String>()
            for (k, _) in fields where !keys.insert(k).inserted { throw fail("\"\(k)\" is given twice") }
            func field(_ k: String) throws -> OrderedJSON {
                guard let v = value[k] else { throw fail("missing \"\(k)\"") }
                return v
            }
            func integers(_ k: String, _ what: String) throws -> [Int] {
                guard case .array(let items) = try field(k) else { throw fail("\"\(k)\" must be \(what)") }
                return try items.map { item in
                    guard case .int(let i) = item else { throw fail("\"\(k)\" must be \(what)") }
                    return i
                }
            }
            guard case .string(let dtype) = try field("dtype") else { throw fail("\"dtype\" must be a string") }
            header.tensors.append(RawTensor(name: name, dtype: dtype,
                                            shape: try integers("shape", "a list of integers"),
                                            offsets: try integers("data_offsets", "a list of two integers")))
        }
        return header
    }

    /// Checks dtypes, shapes and byte ranges against a data section of `dataLength` bytes.
    static func validate(_ raw: [RawTensor], dataLength: Int, path: String) throws -> [String: SafeTensorsEntry] {
        var entries: [String: SafeTensorsEntry] = [:]
        for t in raw {
            func fail(_ problem: String) -> HalluError { HalluError.file(path, "tensor \"\(t.name)\": \(problem)") }
            guard let dtype = SafeTensorsDType(rawValue: t.dtype) else {
                let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
                throw fail("unsupported dtype \"\(t.dtype)\" (supported: \(known))")
            }
            if t.shape.contains(where: { $0 < 0 }) { throw fail("shape \(t.shape) has a negative dimension") }
            guard let count = CheckedSize.product(t.shape) else { throw fail("shape \(t.shape) is too large") }
            guard t.offsets.count == 2 else {
                throw fail("data_offsets must be [begin, end], found \(t.offsets)")
            }
            let (b, e) = (t.offsets[0], t.offsets[1])
            guard b >= 0, b <= e, e <= dataLength else {
                throw fail("data_offsets [\(b), \(e)] out of range (data section has \(dataLength) bytes)")
            }
            let (need, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, e - b == need else {
                throw fail("data_offsets [\(b), \(e)] hold \(e - b) bytes but shape \(t.shape) of \(dtype.rawValue) needs \(overflow ? "more" : String(need))")
            }
            if entries[t.name] != nil { throw fail("listed twice") }
            entries[t.name] = SafeTensorsEntry(name: t.name, dtype: dtype, shape: t.shape, begin: b, end: e)
        }
        // As the reference loader: the tensors tile the data section exactly, with no overlap, no
        // gap and no bytes after the last one.
        let byStart = entries.values.filter { $0.end > $0.begin }
            .sorted { ($0.begin, $0.name) < ($1.begin, $1.name) }
        var covered = 0
        for (prev, next) in zip(byStart, byStart.dropFirst()) where next.begin < prev.end {
            throw HalluError.file(path, "tensors \"\(prev.name)\" [\(prev.begin), \(prev.end)) and \"\(next.name)\" [\(next.begin), \(next.end)) overlap")
        }
        for e in byStart {
            if e.begin != covered {
                throw HalluError.file(path, "bytes [\(covered), \(e.begin)) of the data section belong to no tensor (the file is damaged or was not written by a safetensors writer)")
            }
            covered = e.end
        }
        if covered != dataLength {
            throw HalluError.file(path, "\(dataLength - covered) bytes after the last tensor's data (the data section has \(dataLength) bytes, the header describes \(covered)); the file is damaged or has data appended")
        }
        return entries
    }
}
