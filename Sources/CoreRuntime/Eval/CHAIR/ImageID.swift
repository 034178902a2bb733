import Foundation

/// Normalises the many spellings of an image id to one key, so that captions and ground truth written
/// by different tools meet: 2239, "2239", "000000002239.jpg", "COCO_val2014_000000002239.jpg" and
/// "val2014/COCO_val2014_000000002239.jpg" are all "2239". Ids that are not COCO-style (e.g.
/// "scene_0007") are kept as written, minus a path and an image-file extension.
public enum ImageID {
    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "gif", "bmp", "webp", "ppm"]

    /// The canonical key for a JSON id value (integer or string), or nil for other JSON types.
    public static func canonical(_ value: Any) -> String? {
        if let n = value as? NSNumber {
            let d = n.doubleValue
            guard d.rounded() == d, abs(d) < 1e15 else { return nil }
            return String(Int64(d))
        }
        if let s = value as? String { return canonical(string: s) }
        return nil
    }

    /// The canonical key for an id written as text.
    public static func canonical(string raw: String) -> String {
        if let n = digitsValue(raw) { return n }
        var s = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if let slash = s.lastIndex(of: "/") { s = String(s[s.index(after: slash)...]) }
        if let dot = s.lastIndex(of: "."), imageExtensions.contains(s[s.index(after: dot)...].lowercased()) {
            s = String(s[..<dot])
        }
        if let n = digitsValue(s) { return n }
        if s.uppercased().hasPrefix("COCO_"), let underscore = s.lastIndex(of: "_"),
           let n = digitsValue(String(s[s.index(after: underscore)...])) {
            return n
        }
        return s
    }

    private static func digitsValue(_ s: String) -> String? {
        let bytes = s.utf8
        guard !bytes.isEmpty, bytes.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        guard bytes.first == 48 else { return s }
        let trimmed = bytes.drop { $0 == 48 }
        return trimmed.isEmpty ? "0" : String(decoding: trimmed, as: UTF8.self)
    }
}
