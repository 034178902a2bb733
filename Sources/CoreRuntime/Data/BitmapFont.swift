import Foundation

/// A built-in 5x7 pixel font for printable ASCII, so sample sheets need no font library.
public enum BitmapFont {
    public static let glyphWidth = 5
    public static let glyphHeight = 7
    /// Horizontal advance per character (glyph plus one pixel of space).
    public static let advance = 6
    /// Line height (glyph plus two pixels of space).
    public static let lineHeight = 9

    /// ASCII 32...126: 7 rows of 5 bits each, top row in the highest bits, leftmost pixel first.
    static let table: [UInt64] = [
        0x000000000, 0x108421004, 0x294000000, 0x2BEA57D40, 0x11F4717C4, 0x6744222F3,
        0x324C4564D, 0x108000000, 0x088842082, 0x208210888, 0x009575480, 0x0084F9080,
        0x000001888, 0x0000F8000, 0x00000018C, 0x044222110, 0x3A33AE62E, 0x11842108E,
        0x3A211111F, 0x78217043E, 0x08CA97C42, 0x7E1E0862E, 0x1910F462E, 0x7C2222108,
        0x3A317462E, 0x3A317844C, 0x018C03180, 0x018C03088, 0x088882082, 0x001F07C00,
        0x208208888, 0x3A2111004, 0x3A37ADE0F, 0x3A31FC631, 0x7A31F463E, 0x3A308422E,
        0x72518C65C, 0x7E10F421F, 0x7E10F4210, 0x3A30BC62F, 0x4631FC631, 0x38842108E,
        0x1C4210A4C, 0x4654C5251, 0x42108421F, 0x4775AC631, 0x4639ACE31, 0x3A318C62E,
        0x7A31F4210, 0x3A318D64D, 0x7A31F5251, 0x3E107043E, 0x7C8421084, 0x46318C62E,
        0x46318C544, 0x4631AD6AA, 0x462A22A31, 0x462A21084, 0x7C222221F, 0x39084210E,
        0x410820841, 0x38421084E, 0x115100000, 0x00000001F, 0x208000000, 0x000E0BE2F,
        0x4216CC63E, 0x000E8422E, 0x042D9C62F, 0x000E8FE0E, 0x1928E2108, 0x01F18BC2E,
        0x4216CC631, 0x100C2108E, 0x080610A4C, 0x4212A6292, 0x30842108E, 0x001AAD631,
        0x0016CC631, 0x000E8C62E, 0x001E8FA10, 0x000D9BC21, 0x0016CC210, 0x000E8383E,
        0x211C42126, 0x00118C66D, 0x00118C544, 0x00118D6AA, 0x001151151, 0x00118BC2E,
        0x001F1111F, 0x088441082, 0x108421084, 0x208411088, 0x0008A8800,
    ]

    /// Whether pixel (x, y) of character `c` is ink; unprintable characters draw as '?'.
    public static func ink(_ c: Character, x: Int, y: Int) -> Bool {
        guard x >= 0, x < glyphWidth, y >= 0, y < glyphHeight else { return false }
        var code = Int(c.asciiValue ?? 63)
        if code < 32 || code > 126 { code = 63 }
        let bits = table[code - 32]
        let shift = UInt64((glyphHeight - 1 - y) * glyphWidth + (glyphWidth - 1 - x))
        return (bits >> shift) & 1 == 1
    }

    /// Draws `text` with its top-left corner at (x, y), each font pixel `scale` pixels wide.
    public static func draw(_ text: String, on image: inout RGBImage, x: Int, y: Int, color: RGB, scale: Int = 1) {
        var cx = x
        for ch in text {
            for gy in 0..<glyphHeight {
                for gx in 0..<glyphWidth where ink(ch, x: gx, y: gy) {
                    image.fill(x: cx + gx * scale, y: y + gy * scale, width: scale, height: scale, with: color)
                }
            }
            cx += advance * scale
        }
    }

    /// Splits text into lines of at most `width` characters, at spaces where possible.
    public static func wrap(_ text: String, width: Int) -> [String] {
        guard width > 0 else { return [text] }
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            var w = String(word)
            while w.count > width {
                if !current.isEmpty { lines.append(current); current = "" }
                lines.append(String(w.prefix(width)))
                w = String(w.dropFirst(width))
            }
            if current.isEmpty { current = w } else if current.count + 1 + w.count <= width { current += " " + w } else {
                lines.append(current)
                current = w
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}
