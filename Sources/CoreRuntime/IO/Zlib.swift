import Foundation

/// zlib compression through the system's libz, loaded at run time (decompression lives in `Gzip`).
/// Output bytes depend on the libz build, so nothing that must be byte-identical across machines
/// (the scene world) uses it: see `PNGCompression.stored`.
public enum Zlib {
    private typealias Compress2 = @convention(c) (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt>,
                                                  UnsafePointer<UInt8>, UInt, Int32) -> Int32
    private typealias CompressBound = @convention(c) (UInt) -> UInt

    private struct Lib {
        let compress2: Compress2
        let compressBound: CompressBound
    }

    private static let lib: Lib? = {
        for name in ["libz.so.1", "libz.so", "libz.dylib"] {
            guard let h = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
            guard let c = dlsym(h, "compress2"), let b = dlsym(h, "compressBound") else { continue }
            return Lib(compress2: unsafeBitCast(c, to: Compress2.self),
                       compressBound: unsafeBitCast(b, to: CompressBound.self))
        }
        return nil
    }()

    /// Whether libz could be loaded.
    public static var isAvailable: Bool { lib != nil }

    /// Compresses `bytes` into a zlib stream (RFC 1950) at `level` 0...9.
    public static func compress(_ bytes: [UInt8], level: Int = 6) throws -> [UInt8] {
        guard let lib else { throw HalluError("cannot compress: libz.so.1 not found (install zlib1g)") }
        guard (0...9).contains(level) else { throw HalluError("zlib level must be 0...9, got \(level)") }
        var outLen = lib.compressBound(UInt(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(outLen))
        let rc = out.withUnsafeMutableBufferPointer { o in
            bytes.withUnsafeBufferPointer { i in
                lib.compress2(o.baseAddress!, &outLen, i.baseAddress ?? UnsafePointer(o.baseAddress!),
                              UInt(i.count), Int32(level))
            }
        }
        guard rc == 0 else { throw HalluError("zlib compress2 failed (\(rc))") }
        out.removeSubrange(Int(outLen)...)
        return out
    }

    /// A zlib stream made only of stored (uncompressed) deflate blocks. Needs no library and gives
    /// the same bytes everywhere.
    public static func stored(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        out.reserveCapacity(bytes.count + bytes.count / 65_535 * 5 + 11)
        var start = 0
        repeat {
            let n = min(65_535, bytes.count - start)
            let final: UInt8 = start + n == bytes.count ? 1 : 0
            out.append(final)
            out.append(UInt8(n & 0xFF)); out.append(UInt8(n >> 8))
            out.append(UInt8(~n & 0xFF)); out.append(UInt8((~n >> 8) & 0xFF))
            out.append(contentsOf: bytes[start..<(start + n)])
            start += n
        } while start < bytes.count
        let a = adler32(bytes)
        out.append(UInt8(a >> 24)); out.append(UInt8((a >> 16) & 0xFF))
        out.append(UInt8((a >> 8) & 0xFF)); out.append(UInt8(a & 0xFF))
        return out
    }

    /// Adler-32 checksum (RFC 1950).
    public static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var i = 0
        while i < bytes.count {
            // 5552 is the largest run for which b cannot overflow 32 bits before the modulo.
            let end = min(i + 5552, bytes.count)
            while i < end { a &+= UInt32(bytes[i]); b &+= a; i += 1 }
            a %= 65_521; b %= 65_521
        }
        return (b << 16) | a
    }
}
