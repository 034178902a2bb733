import CoreRuntime
import Foundation

/// Mutations of safetensors files: the header's JSON structurally (re-framed with a correct
/// length), the length field, header bytes, and the data section's size.
enum SafeTensorsMutator {
    static func mutate(_ data: Data, _ rng: inout FuzzRNG) -> Data {
        var b = [UInt8](data)
        guard b.count >= 8 else { ByteMutator.mutate(&b, &rng); return Data(b) }
        let n = Int(b[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        guard n <= b.count - 8 else { ByteMutator.mutate(&b, &rng); return Data(b) }
        let header = Data(b[8..<(8 + n)]), body = Array(b[(8 + n)...])
        switch rng.int(10) {
        case 0...4:
            var h = [UInt8](JSONMutator.mutate(text: header, &rng))
            if rng.chance(0.8) { h += Array(repeating: 0x20, count: (8 - h.count % 8) % 8) }
            return frame(h, body, length: UInt64(h.count))
        case 5, 6:
            let lengths: [UInt64] = [0, 1, 7, UInt64(n - 1), UInt64(n + 1), UInt64(b.count - 8), UInt64(b.count),
                                     100_000_001, UInt64(Int.max), UInt64.max, 1 << 32]
            return frame(Array(header), body, length: rng.pick(lengths))
        case 7:
            var h = Array(header)
            ByteMutator.mutate(&h, &rng)
            return frame(h, body, length: UInt64(h.count))
        case 8:
            var d = body
            if rng.chance(0.5) && !d.isEmpty { d.removeLast(1 + rng.int(d.count)) } else { d += Array(repeating: 0, count: 1 + rng.int(64)) }
            return frame(Array(header), d, length: UInt64(n))
        default:
            ByteMutator.mutate(&b, &rng)
            return Data(b)
        }
    }

    static func frame(_ header: [UInt8], _ body: [UInt8], length: UInt64) -> Data {
        var out = [UInt8]()
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        return Data(out + header + body)
    }
}

/// Mutations of PNG files, chunk-aware: IHDR fields set to edge values, image data replaced by
/// valid compressed rows (every filter type, and invalid ones) for the declared size, chunks
/// dropped, repeated or reordered; CRCs recomputed so the decoder sees the change.
enum PNGMutator {
    struct Chunk { var type: [UInt8]; var body: [UInt8]; var crc: UInt32? = nil; var length: UInt32? = nil }

    static func parse(_ b: [UInt8]) -> [Chunk]? {
        guard b.count >= 8 else { return nil }
        var pos = 8, out: [Chunk] = []
        while pos + 12 <= b.count {
            let len = Int(be32(b, pos))
            guard pos + 12 + len <= b.count else { return nil }
            out.append(Chunk(type: Array(b[(pos + 4)..<(pos + 8)]), body: Array(b[(pos + 8)..<(pos + 8 + len)])))
            pos += 12 + len
        }
        return out
    }

    static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
    static func put32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func serialize(_ chunks: [Chunk]) -> Data {
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        for c in chunks {
            out += put32(c.length ?? UInt32(c.body.count)) + c.type + c.body
            out += put32(c.crc ?? PNGCodec.crc32(c.type + c.body))
        }
        return Data(out)
    }

    static func mutate(_ data: Data, _ rng: inout FuzzRNG) -> Data {
        var raw = [UInt8](data)
        guard var chunks = parse(raw), let ih = chunks.firstIndex(where: { $0.type == Array("IHDR".utf8) }), chunks[ih].body.count == 13 else {
            ByteMutator.mutate(&raw, &rng)
            return Data(raw)
        }
        let sides: [UInt32] = [0, 1, 2, 3, 7, 64, 255, 1000, 20_000, 65_535, 100_000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
        for _ in 0..<(1 + rng.int(2)) {
            switch rng.int(12) {
            case 0, 1: chunks[ih].body.replaceSubrange(0..<4, with: put32(rng.pick(sides)))
            case 2, 3: chunks[ih].body.replaceSubrange(4..<8, with: put32(rng.pick(sides)))
            case 4: chunks[ih].body[8] = rng.pick([0, 1, 2, 4, 8, 16, 3, 32, 255])
            case 5: chunks[ih].body[9] = rng.pick([0, 2, 3, 4, 6, 1, 5, 7, 255])
            case 6: chunks[ih].body[10 + rng.int(3)] = rng.pick([0, 1, 2, 255])
            case 7: replaceImageData(&chunks, ih: ih, &rng)
            case 8:
                switch rng.int(5) {
                case 0: chunks.removeAll { $0.type == Array("PLTE".utf8) }
                case 1: chunks.insert(Chunk(type: Array("PLTE".utf8), body: (0..<(3 * (1 + rng.int(300)) + rng.int(2))).map { _ in UInt8(rng.int(256)) }), at: ih + 1)
                case 2: chunks.removeAll { $0.type == Array("IEND".utf8) }
                case 3: chunks.insert(chunks[ih], at: min(chunks.count, ih + 1 + rng.int(2)))
                default: chunks.insert(Chunk(type: Array(rng.pick(["XXXX", "tEXt", "iCCP", "IDAT"]).utf8), body: [1, 2, 3]), at: 1 + rng.int(chunks.count))
                }
            case 9:
                let i = rng.int(chunks.count)
                if rng.chance(0.5) { chunks[i].length = rng.pick([0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, UInt32(chunks[i].body.count + 1)]) }
                else { chunks[i].crc = UInt32(truncatingIfNeeded: rng.g.next()) }
            case 10:
                if let i = chunks.firstIndex(where: { $0.type == Array("IDAT".utf8) }) {
                    ByteMutator.mutate(&chunks[i].body, &rng)
                }
            default:
                var bytes = [UInt8](serialize(chunks))
                ByteMutator.mutate(&bytes, &rng)
                return Data(bytes)
            }
        }
        return serialize(chunks)
    }

    /// Replaces the image data with compressed rows of the size IHDR declares (when small), each
    /// row starting with a filter byte that is usually valid.
    static func replaceImageData(_ chunks: inout [Chunk], ih: Int, _ rng: inout FuzzRNG) {
        let h = chunks[ih].body
        let w = Int(be32(h, 0)), ht = Int(be32(h, 4)), depth = Int(h[8]), ct = Int(h[9])
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][ct] ?? 3
        let stride = (w * channels * max(depth, 1) + 7) / 8
        guard w > 0, ht > 0, w <= 4096, ht <= 4096, (stride + 1) * ht <= 1 << 20 else { return }
        var rows: [UInt8] = []
        for _ in 0..<ht {
            rows.append(rng.chance(0.97) ? UInt8(rng.int(5)) : UInt8(5 + rng.int(251)))
            rows += (0..<stride).map { _ in UInt8(rng.int(256)) }
        }
        if rng.chance(0.2) { rows.removeLast(rng.int(rows.count)) }
        guard let z = try? Zlib.compress(rows) else { return }
        chunks.removeAll { $0.type == Array("IDAT".utf8) }
        let end = chunks.firstIndex { $0.type == Array("IEND".utf8) } ?? chunks.count
        if ct == 3 && !chunks.contains(where: { $0.type == Array("PLTE".utf8) }) && rng.chance(0.8) {
            chunks.insert(Chunk(type: Array("PLTE".utf8), body: (0..<(3 * (1 + rng.int(256)))).map { _ in UInt8(rng.int(256)) }), at: ih + 1)
        }
        let at = chunks.firstIndex { $0.type == Array("IEND".utf8) } ?? end
        chunks.insert(Chunk(type: Array("IDAT".utf8), body: z), at: at)
    }
}

/// Mutations of JPEG files, marker-aware: frame sizes, precision and components set to edge
/// values, segment lengths broken, entropy-coded data flipped or cut.
enum JPEGMutator {
    static func mutate(_ data: Data, _ rng: inout FuzzRNG) -> Data {
        var b = [UInt8](data)
        // Find the frame header (SOF0..SOF2) and the start of scan.
        var sof: Int? = nil, sos: Int? = nil, segments: [Int] = []
        var i = 2
        while i + 4 <= b.count, b[i] == 0xFF {
            let m = b[i + 1], len = Int(b[i + 2]) << 8 | Int(b[i + 3])
            segments.append(i)
            if [0xC0, 0xC1, 0xC2].contains(m) { sof = i }
            if m == 0xDA { sos = i; break }
            i += 2 + len
        }
        let dims: [UInt16] = [0, 1, 8, 16, 65_500, 65_535, 4096, 30_000]
        switch rng.int(8) {
        case 0, 1:
            if let s = sof, s + 9 <= b.count {
                let v = rng.pick(dims)
                let at = s + (rng.chance(0.5) ? 5 : 7)
                b[at] = UInt8(v >> 8); b[at + 1] = UInt8(v & 0xFF)
            }
        case 2:
            if let s = sof, s + 10 <= b.count {
                if rng.chance(0.5) { b[s + 4] = rng.pick([0, 8, 12, 16, 255]) } else { b[s + 9] = rng.pick([0, 1, 2, 3, 4, 255]) }
            }
        case 3:
            if !segments.isEmpty {
                let s = rng.pick(segments)
                let v = rng.pick([0, 1, 2, 0xFFFF, Int(b[s + 2]) << 8 | Int(b[s + 3]) + 1])
                b[s + 2] = UInt8((v >> 8) & 0xFF); b[s + 3] = UInt8(v & 0xFF)
            }
        case 4, 5:
            if let s = sos { ByteMutator.mutate(&b, &rng, region: min(b.count, s + 4)..<b.count) }
        default:
            ByteMutator.mutate(&b, &rng)
        }
        return Data(b)
    }
}
