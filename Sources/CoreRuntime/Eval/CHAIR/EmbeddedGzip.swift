/// Decompresses the gzip members embedded in the library (the NLTK models) without libz, so that
/// CHAIR's models load wherever the library runs. A plain DEFLATE decoder (RFC 1951: stored, fixed and
/// dynamic Huffman blocks) behind a gzip header and CRC-32 check (RFC 1952). Files from disk keep
/// going through `Gzip`, which uses the system's libz.
enum EmbeddedGzip {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The decompressed bytes of one gzip member.
    static func decompress(_ gz: [UInt8]) throws -> [UInt8] {
        guard gz.count >= 18, gz[0] == 0x1F, gz[1] == 0x8B, gz[2] == 8 else { throw Failure(description: "not a gzip member") }
        let flags = gz[3]
        var pos = 10
        if flags & 4 != 0 {  // FEXTRA
            guard pos + 2 <= gz.count else { throw Failure(description: "truncated header") }
            pos += 2 + Int(gz[pos]) + Int(gz[pos + 1]) << 8
        }
        for bit in [UInt8(8), 16] where flags & bit != 0 {  // FNAME, FCOMMENT: zero-terminated
            while pos < gz.count && gz[pos] != 0 { pos += 1 }
            pos += 1
        }
        if flags & 2 != 0 { pos += 2 }  // FHCRC
        guard pos < gz.count - 8 else { throw Failure(description: "truncated header") }
        var inflater = Inflater(input: gz, position: pos)
        let out = try inflater.run()
        let tail = inflater.byteAlignedPosition
        guard tail + 8 <= gz.count else { throw Failure(description: "truncated trailer") }
        func le32(_ p: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(gz[p + $1]) << (8 * UInt32($1)) } }
        guard le32(tail) == crc32(out), le32(tail + 4) == UInt32(truncatingIfNeeded: out.count) else {
            throw Failure(description: "CRC or length mismatch")
        }
        return out
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = crcTable[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// Canonical Huffman code as counts per length and symbols in code order (as RFC 1951 builds it).
    struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int] = []

        init(lengths: [Int]) throws {
            for l in lengths { counts[l] += 1 }
            counts[0] = 0
            var left = 1
            for len in 1...15 {
                left <<= 1
                left -= counts[len]
                guard left >= 0 else { throw Failure(description: "over-subscribed Huffman code") }
            }
            var offsets = [Int](repeating: 0, count: 16)
            for len in 1..<15 { offsets[len + 1] = offsets[len] + counts[len] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (symbol, l) in lengths.enumerated() where l != 0 {
                symbols[offsets[l]] = symbol
                offsets[l] += 1
            }
        }
    }

    struct Inflater {
        let input: [UInt8]
        var position: Int
        var bitBuffer = 0
        var bitCount = 0
        var output: [UInt8] = []

        init(input: [UInt8], position: Int) {
            self.input = input
            self.position = position
        }

        /// The input position after the last whole byte consumed (bits of a partial byte are dropped).
        var byteAlignedPosition: Int { position }

        mutating func bits(_ n: Int) throws -> Int {
            while bitCount < n {
                guard position < input.count else { throw Failure(description: "unexpected end of data") }
                bitBuffer |= Int(input[position]) << bitCount
                position += 1
                bitCount += 8
            }
            let v = bitBuffer & ((1 << n) - 1)
            bitBuffer >>= n
            bitCount -= n
            return v
        }

        mutating func decode(_ h: Huffman) throws -> Int {
            var code = 0, first = 0, index = 0
            for len in 1...15 {
                code |= try bits(1)
                let count = h.counts[len]
                if code - count < first { return h.symbols[index + (code - first)] }
                index += count
                first += count
                first <<= 1
                code <<= 1
            }
            throw Failure(description: "bad Huffman code")
        }

        static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
        static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
        static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                                   4097, 6145, 8193, 12289, 16385, 24577]
        static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

        mutating func run() throws -> [UInt8] {
            var last = 0
            repeat {
                last = try bits(1)
                switch try bits(2) {
                case 0: try stored()
                case 1: try codes(try Huffman(lengths: [Int](repeating: 8, count: 144) + [Int](repeating: 9, count: 112)
                                              + [Int](repeating: 7, count: 24) + [Int](repeating: 8, count: 8)),
                                  try Huffman(lengths: [Int](repeating: 5, count: 30)))
                case 2: try dynamic()
                default: throw Failure(description: "invalid block type")
                }
            } while last == 0
            bitBuffer = 0
            bitCount = 0
            return output
        }

        mutating func stored() throws {
            bitBuffer = 0
            bitCount = 0
            guard position + 4 <= input.count else { throw Failure(description: "truncated stored block") }
            let len = Int(input[position]) | Int(input[position + 1]) << 8
            let nlen = Int(input[position + 2]) | Int(input[position + 3]) << 8
            guard len == (~nlen & 0xFFFF) else { throw Failure(description: "stored block length mismatch") }
            position += 4
            guard position + len <= input.count else { throw Failure(description: "truncated stored block") }
            output.append(contentsOf: input[position..<(position + len)])
            position += len
        }

        mutating func dynamic() throws {
            let nlen = try bits(5) + 257, ndist = try bits(5) + 1, ncode = try bits(4) + 4
            guard nlen <= 286, ndist <= 30 else { throw Failure(description: "bad code counts") }
            let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
            var codeLengths = [Int](repeating: 0, count: 19)
            for i in 0..<ncode { codeLengths[order[i]] = try bits(3) }
            let codeCode = try Huffman(lengths: codeLengths)
            var lengths: [Int] = []
            while lengths.count < nlen + ndist {
                let symbol = try decode(codeCode)
                switch symbol {
                case 0...15: lengths.append(symbol)
                case 16:
                    guard let previous = lengths.last else { throw Failure(description: "repeat with no length") }
                    lengths += [Int](repeating: previous, count: 3 + (try bits(2)))
                case 17: lengths += [Int](repeating: 0, count: 3 + (try bits(3)))
                default: lengths += [Int](repeating: 0, count: 11 + (try bits(7)))
                }
            }
            guard lengths.count == nlen + ndist, lengths[256] != 0 else { throw Failure(description: "bad code lengths") }
            try codes(try Huffman(lengths: Array(lengths[0..<nlen])), try Huffman(lengths: Array(lengths[nlen...])))
        }

        mutating func codes(_ literal: Huffman, _ distance: Huffman) throws {
            while true {
                let symbol = try decode(literal)
                if symbol < 256 {
                    output.append(UInt8(symbol))
                } else if symbol == 256 {
                    return
                } else {
                    let s = symbol - 257
                    guard s < 29 else { throw Failure(description: "bad length symbol") }
                    let length = Inflater.lengthBase[s] + (try bits(Inflater.lengthExtra[s]))
                    let d = try decode(distance)
                    guard d < 30 else { throw Failure(description: "bad distance symbol") }
                    let dist = Inflater.distanceBase[d] + (try bits(Inflater.distanceExtra[d]))
                    guard dist <= output.count else { throw Failure(description: "distance too far back") }
                    let start = output.count - dist
                    for k in 0..<length { output.append(output[start + k]) }
                }
            }
        }
    }
}
