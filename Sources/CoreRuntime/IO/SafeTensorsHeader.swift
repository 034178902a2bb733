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
    static func parse(_ data: Data, path: String) throws -> SafeTensorsHeader {
        guard String(data: data, encoding: .utf8) != nil else {
            throw HalluError.file(path, "malformed header: not UTF-8 text")
        }
        do {
            return try JSONDecoder().decode(Decoded.self, from: data).header
        } catch let e as HeaderProblem {
            throw HalluError.file(path, "malformed header: \(e.message)")
        } catch let e as DecodingError {
            switch e {
            case .dataCorrupted(let ctx) where ctx.codingPath.isEmpty:
                throw HalluError.file(path, "malformed header JSON: \(underlyingDescription(ctx))")
            case .typeMismatch(_, let ctx) where ctx.codingPath.isEmpty:
                throw HalluError.file(path, "malformed header: expected a JSON object")
            default:
                throw HalluError.file(path, "malformed header: \(e)")
            }
        }
    }

    private static func underlyingDescription(_ ctx: DecodingError.Context) -> String {
        if let u = ctx.underlyingError as NSError?,
           let d = u.userInfo[NSDebugDescriptionErrorKey] as? String { return d }
        return ctx.debugDescription
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
            guard let count = HostArray.elementCount(t.shape) else { throw fail("shape \(t.shape) is too large") }
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
        let byStart = entries.values.filter { $0.end > $0.begin }
            .sorted { ($0.begin, $0.name) < ($1.begin, $1.name) }
        for (prev, next) in zip(byStart, byStart.dropFirst()) where next.begin < prev.end {
            throw HalluError.file(path, "tensors \"\(prev.name)\" [\(prev.begin), \(prev.end)) and \"\(next.name)\" [\(next.begin), \(next.end)) overlap")
        }
        return entries
    }

    private struct HeaderProblem: Error { let message: String }

    private struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }

    private struct Decoded: Decodable {
        var header = SafeTensorsHeader()

        init(from decoder: Decoder) throws {
            let top = try decoder.container(keyedBy: Key.self)
            for key in top.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                let name = key.stringValue
                if name == "__metadata__" {
                    if try top.decodeNil(forKey: key) { continue }
                    guard let m = try? top.decode([String: String].self, forKey: key) else {
                        throw HeaderProblem(message: "__metadata__ must map strings to strings")
                    }
                    header.metadata = m
                    continue
                }
                guard let info = try? top.nestedContainer(keyedBy: Key.self, forKey: key) else {
                    throw HeaderProblem(message: "tensor \"\(name)\": entry is not a JSON object")
                }
                func field<T: Decodable>(_ k: String, _ type: T.Type, _ what: String) throws -> T {
                    guard info.contains(Key(k)) else {
                        throw HeaderProblem(message: "tensor \"\(name)\": missing \"\(k)\"")
                    }
                    guard let v = try? info.decode(T.self, forKey: Key(k)) else {
                        throw HeaderProblem(message: "tensor \"\(name)\": \"\(k)\" must be \(what)")
                    }
                    return v
                }
                header.tensors.append(RawTensor(
                    name: name,
                    dtype: try field("dtype", String.self, "a string"),
                    shape: try field("shape", [Int].self, "a list of integers"),
                    offsets: try field("data_offsets", [Int].self, "a list of two integers")))
            }
        }
    }
}
