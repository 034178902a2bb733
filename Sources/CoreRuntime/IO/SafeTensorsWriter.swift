import Foundation

extension SafeTensors {
    /// Serialises arrays into safetensors bytes.
    ///
    /// The output is byte-identical to the reference library's for the same tensors, dtypes and
    /// (key-sorted) metadata: tensors laid out by descending dtype rank then name, compact JSON,
    /// the header padded with spaces to a multiple of 8 bytes.
    /// - Parameters:
    ///   - dtype: storage type for every array not named in `dtypes` (F32, F16 or BF16).
    ///   - dtypes: per-tensor storage types that override `dtype`.
    ///   - path: the destination, used only in error messages.
    public static func encode(_ arrays: [String: HostArray], metadata: [String: String] = [:],
                              dtype: SafeTensorsDType = .F32, dtypes: [String: SafeTensorsDType] = [:],
                              path: String = "<memory>") throws -> Data {
        var plan: [(name: String, dtype: SafeTensorsDType, array: HostArray)] = []
        plan.reserveCapacity(arrays.count)
        for (name, array) in arrays {
            if name == "__metadata__" { throw HalluError.file(path, "\"__metadata__\" is reserved and cannot name a tensor") }
            try array.validate(name: name, file: path)
            let t = dtypes[name] ?? dtype
            guard t.isWritable else {
                throw HalluError.file(path, "tensor \"\(name)\": cannot write dtype \(t.rawValue) (F32, F16 or BF16 only)")
            }
            plan.append((name, t, array))
        }
        plan.sort { a, b in
            if a.dtype.layoutRank != b.dtype.layoutRank { return a.dtype.layoutRank > b.dtype.layoutRank }
            return Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
        }

        var json = "{"
        var first = true
        if !metadata.isEmpty {
            let items = metadata.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                .map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            json += "\"__metadata__\":{\(items.joined(separator: ","))}"
            first = false
        }
        var offset = 0
        for item in plan {
            let bytes = item.array.values.count * item.dtype.byteSize
            if !first { json += "," }
            first = false
            json += "\(jsonString(item.name)):{\"dtype\":\"\(item.dtype.rawValue)\",\"shape\":[\(item.array.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        json += "}"
        var header = Array(json.utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))

        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for item in plan { appendElements(item.array.values, as: item.dtype, to: &out) }
        return out
    }

    /// Atomically writes arrays to a safetensors file (see `encode` for the options).
    public static func write(_ arrays: [String: HostArray], to url: URL, metadata: [String: String] = [:],
                             dtype: SafeTensorsDType = .F32, dtypes: [String: SafeTensorsDType] = [:]) throws {
        let data = try encode(arrays, metadata: metadata, dtype: dtype, dtypes: dtypes, path: url.path)
        try AtomicFile.write(data, to: url)
    }

    private static func appendElements(_ values: [Float], as dtype: SafeTensorsDType, to out: inout Data) {
        switch dtype {
        case .F32:
            values.withUnsafeBytes { out.append(contentsOf: $0) }
        case .F16, .BF16:
            let halves = values.map { v -> UInt16 in
                (dtype == .F16 ? HalfPrecision.half(from: v) : HalfPrecision.bfloat16(from: v)).littleEndian
            }
            halves.withUnsafeBytes { out.append(contentsOf: $0) }
        default:
            break  // rejected in encode
        }
    }

    /// A JSON string literal escaped the way serde_json does (so headers match byte for byte).
    public static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
