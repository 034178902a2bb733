import Foundation

/// How `PNGCodec.encode` compresses pixel data.
public enum PNGCompression: Equatable, Sendable {
    /// Stored deflate blocks: no library needed, and the same bytes on every machine.
    case stored
    /// Real deflate through libz at the given level (bytes may differ between libz builds).
    case deflate(level: Int)
}

/// PNG encoding (8-bit RGB) and decoding (every bit depth of grey, grey+alpha, RGB, RGBA and
/// palette images; not interlaced).
/// Alpha is dropped on decode, as `PIL.Image.convert("RGB")` does for LLaVA's loaders.
public enum PNGCodec {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Encodes an image as an 8-bit RGB PNG.
    public static func encode(_ image: RGBImage, compression: PNGCompression = .stored) throws -> Data {
        let rowBytes = image.width * 3
        var raw = [UInt8](repeating: 0, count: (rowBytes + 1) * image.height)
        image.pixels.withUnsafeBufferPointer { src in
            for y in 0..<image.height {
                // Filter type 0 (none) on every row: stored data gains nothing from filtering.
                let dst = y * (rowBytes + 1)
                for i in 0..<rowBytes { raw[dst + 1 + i] = src[y * rowBytes + i] }
            }
        }
        let idat: [UInt8]
        switch compression {
        case .stored: idat = Zlib.stored(raw)
        case .deflate(let level): idat = try Zlib.compress(raw, level: level)
        }
        var out = signature
        var ihdr = [UInt8]()
        appendBE(&ihdr, UInt32(image.width)); appendBE(&ihdr, UInt32(image.height))
        ihdr += [8, 2, 0, 0, 0]
        appendChunk(&out, "IHDR", ihdr)
        appendChunk(&out, "IDAT", idat)
        appendChunk(&out, "IEND", [])
        return Data(out)
    }

    /// Decodes PNG bytes; `path` names the file in errors.
    public static func decode(_ data: Data, path: String = "<png>") throws -> RGBImage {
        let bytes = [UInt8](data)
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else { throw HalluError.file(path, "not a PNG file") }
        var pos = 8
        var width = 0, height = 0, depth = 0, colorType = -1
        var palette: [RGB] = []
        var idat: [UInt8] = []
        var sawEnd = false
        while pos + 8 <= bytes.count {
            let len = Int(readBE(bytes, pos))
            let typeBytes = Array(bytes[(pos + 4)..<(pos + 8)])
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard len >= 0, pos + 12 + len <= bytes.count else { throw HalluError.file(path, "truncated PNG chunk \(type)") }
            let body = Array(bytes[(pos + 8)..<(pos + 8 + len)])
            let crc = readBE(bytes, pos + 8 + len)
            guard crc == crc32(typeBytes + body) else { throw HalluError.file(path, "PNG chunk \(type) fails its CRC") }
            switch type {
            case "IHDR":
                guard len == 13 else { throw HalluError.file(path, "bad IHDR length \(len)") }
                guard width == 0 else { throw HalluError.file(path, "PNG has two IHDR chunks") }
                width = Int(readBE(body, 0)); height = Int(readBE(body, 4))
                // The PNG specification limits both sides to 2^31 - 1.
                guard (1...Int(Int32.max)).contains(width), (1...Int(Int32.max)).contains(height) else {
                    throw HalluError.file(path, "PNG size \(width)x\(height) is invalid (each side must be 1 to 2147483647)")
                }
                depth = Int(body[8]); colorType = Int(body[9])
                guard body[10] == 0, body[11] == 0 else { throw HalluError.file(path, "unknown PNG compression/filter method") }
                guard body[12] == 0 else { throw HalluError.file(path, "interlaced (Adam7) PNG is not supported") }
            case "PLTE":
                guard len % 3 == 0, len <= 3 * 256 else { throw HalluError.file(path, "bad PLTE length \(len)") }
                palette = stride(from: 0, to: len, by: 3).map { RGB(body[$0], body[$0 + 1], body[$0 + 2]) }
            case "IDAT": idat += body
            case "IEND": sawEnd = true
            default:
                // Critical chunks have an upper-case first letter; unknown ones cannot be skipped safely.
                if typeBytes[0] & 0x20 == 0 { throw HalluError.file(path, "unsupported critical PNG chunk \(type)") }
            }
            pos += 12 + len
            if sawEnd { break }
        }
        guard width > 0, height > 0 else { throw HalluError.file(path, "PNG has no IHDR") }
        guard sawEnd else { throw HalluError.file(path, "PNG is truncated (no IEND)") }
        let channels: Int
        switch colorType {
        case 0: channels = 1
        case 2: channels = 3
        case 3: channels = 1
        case 4: channels = 2
        case 6: channels = 4
        default: throw HalluError.file(path, "unknown PNG colour type \(colorType)")
        }
        let supported: [Int]
        switch colorType {
        case 0: supported = [1, 2, 4, 8, 16]
        case 3: supported = [1, 2, 4, 8]
        default: supported = [8, 16]
        }
        guard supported.contains(depth) else {
            throw HalluError.file(path, "PNG bit depth \(depth) is not valid for colour type \(colorType)")
        }
        guard colorType != 3 || !palette.isEmpty else { throw HalluError.file(path, "palette PNG without PLTE") }
        let bitsPerPixel = channels * depth
        let bpp = max(1, bitsPerPixel / 8)
        let size = "\(path): \(width)x\(height) PNG"
        let pixels = try CheckedSize.multiply(width, height, size)
        try Limits.imagePixels.check(pixels, size)
        // Both sides are below 2^31 and at most 64 bits per pixel: no overflow from here on.
        let stride = (width * bitsPerPixel + 7) / 8
        let rawSize = (stride + 1) * height
        try HostMemory.check(bytes: rawSize + stride * height + pixels * 3, "decoding \(size)")
        let raw = [UInt8](try Gzip.decompress(Data(idat), path: path, stopAfter: rawSize))
        guard raw.count >= rawSize else {
            throw HalluError.file(path, "PNG image data too short (\(raw.count) bytes for \(width)x\(height))")
        }
        let rows = try unfilter(raw, stride: stride, height: height, bpp: bpp, path: path)
        var px = [UInt8](repeating: 0, count: pixels * 3)
        let step = depth / 8  // 16-bit samples keep their most significant byte
        for y in 0..<height {
            for x in 0..<width {
                let i = y * width + x
                if depth < 8 {
                    // Sub-byte samples are packed from the most significant bit, rows padded to bytes.
                    let bit = x * depth
                    let byte = rows[y * stride + bit / 8]
                    let raw = Int(byte >> UInt8(8 - depth - bit % 8)) & ((1 << depth) - 1)
                    if colorType == 3 {
                        guard raw < palette.count else { throw HalluError.file(path, "palette index \(raw) out of range") }
                        let c = palette[raw]
                        px[i * 3] = c.r; px[i * 3 + 1] = c.g; px[i * 3 + 2] = c.b
                        continue
                    }
                    let g = UInt8(raw * 255 / ((1 << depth) - 1))
                    px[i * 3] = g; px[i * 3 + 1] = g; px[i * 3 + 2] = g
                    continue
                }
                let s = y * stride + x * bpp
                switch colorType {
                case 0, 4:
                    let g = rows[s]
                    px[i * 3] = g; px[i * 3 + 1] = g; px[i * 3 + 2] = g
                case 3:
                    let idx = Int(rows[s])
                    guard idx < palette.count else { throw HalluError.file(path, "palette index \(idx) out of range") }
                    let c = palette[idx]
                    px[i * 3] = c.r; px[i * 3 + 1] = c.g; px[i * 3 + 2] = c.b
                default:
                    px[i * 3] = rows[s]; px[i * 3 + 1] = rows[s + step]; px[i * 3 + 2] = rows[s + 2 * step]
                }
            }
        }
        return try RGBImage(width: width, height: height, pixels: px)
    }

    /// Undoes the per-row filters (0 none, 1 sub, 2 up, 3 average, 4 Paeth).
    static func unfilter(_ raw: [UInt8], stride: Int, height: Int, bpp: Int, path: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: stride * height)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            let src = y * (stride + 1) + 1
            let row = y * stride
            let prev = row - stride
            for x in 0..<stride {
                let a = x >= bpp ? Int(out[row + x - bpp]) : 0
                let b = y > 0 ? Int(out[prev + x]) : 0
                let c = (x >= bpp && y > 0) ? Int(out[prev + x - bpp]) : 0
                let v = Int(raw[src + x])
                let pred: Int
                switch filter {
                case 0: pred = 0
                case 1: pred = a
                case 2: pred = b
                case 3: pred = (a + b) >> 1
                case 4:
                    let p = a + b - c
                    let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
                default: throw HalluError.file(path, "unknown PNG filter type \(filter) on row \(y)")
                }
                out[row + x] = UInt8(truncatingIfNeeded: v + pred)
            }
        }
        return out
    }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 as PNG (and zip, gzip) define it.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    private static func appendBE(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    private static func readBE(_ b: [UInt8], _ i: Int) -> UInt32 {
        (UInt32(b[i]) << 24) | (UInt32(b[i + 1]) << 16) | (UInt32(b[i + 2]) << 8) | UInt32(b[i + 3])
    }

    private static func appendChunk(_ out: inout [UInt8], _ type: String, _ body: [UInt8]) {
        appendBE(&out, UInt32(body.count))
        let t = Array(type.utf8)
        out += t
        out += body
        appendBE(&out, crc32(t + body))
    }
}
