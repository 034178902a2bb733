import Foundation

/// gzip/zlib through the system's libz, loaded at run time so the build needs nothing extra.
public enum Gzip {
    private typealias InflateInit2 = @convention(c) (UnsafeMutableRawPointer, Int32, UnsafePointer<CChar>, Int32) -> Int32
    private typealias Inflate = @convention(c) (UnsafeMutableRawPointer, Int32) -> Int32
    private typealias InflateEnd = @convention(c) (UnsafeMutableRawPointer) -> Int32

    private struct Lib {
        let inflateInit2: InflateInit2
        let inflate: Inflate
        let inflateEnd: InflateEnd
        let version: UnsafePointer<CChar>
    }

    private static let lib: Lib? = {
        for name in ["libz.so.1", "libz.so"] {
            guard let h = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
            guard let i2 = dlsym(h, "inflateInit2_"), let inf = dlsym(h, "inflate"),
                  let end = dlsym(h, "inflateEnd"), let ver = dlsym(h, "zlibVersion") else { continue }
            typealias V = @convention(c) () -> UnsafePointer<CChar>
            return Lib(inflateInit2: unsafeBitCast(i2, to: InflateInit2.self),
                       inflate: unsafeBitCast(inf, to: Inflate.self),
                       inflateEnd: unsafeBitCast(end, to: InflateEnd.self),
                       version: unsafeBitCast(ver, to: V.self)())
        }
        return nil
    }()

    /// Whether libz could be loaded.
    public static var isAvailable: Bool { lib != nil }

    /// Decompresses gzip (windowBits 15+32 auto-detects gzip or zlib headers) or raw zlib data.
    /// Output beyond `Limits.decompressedBytes` is an error (a small file can expand to gigabytes);
    /// with `stopAfter`, decompression ends once that many bytes are out (a PNG's known image size).
    /// `limit` replaces the limit's value (tests).
    public static func decompress(_ data: Data, path: String = "<data>", raw: Bool = false, stopAfter: Int? = nil,
                                  limit: Int? = nil) throws -> Data {
        guard let lib else { throw HalluError.file(path, "cannot decompress: libz.so.1 not found (install zlib1g)") }
        // z_stream is 112 bytes on 64-bit Linux; lay it out by hand to avoid a C module.
        let streamSize = 112
        let stream = UnsafeMutableRawPointer.allocate(byteCount: streamSize, alignment: 8)
        defer { stream.deallocate() }
        stream.initializeMemory(as: UInt8.self, repeating: 0, count: streamSize)
        var input = [UInt8](data)
        guard input.count <= Int(UInt32.max) else {
            throw HalluError.file(path, "compressed data of \(HostMemory.format(input.count)) is larger than the 4 GB zlib reads at once")
        }
        let limit = limit ?? Limits.decompressedBytes.value
        var output = Data()
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: chunk)
        let rc0 = lib.inflateInit2(stream, raw ? -15 : 15 + 32, lib.version, Int32(streamSize))
        guard rc0 == 0 else { throw HalluError.file(path, "inflateInit failed (\(rc0))") }
        defer { _ = lib.inflateEnd(stream) }
        try input.withUnsafeMutableBufferPointer { inBuf in
            stream.storeBytes(of: inBuf.baseAddress, toByteOffset: 0, as: UnsafeMutablePointer<UInt8>?.self)
            stream.storeBytes(of: UInt32(inBuf.count), toByteOffset: 8, as: UInt32.self)
            while true {
                let rc: Int32 = buffer.withUnsafeMutableBufferPointer { outBuf in
                    stream.storeBytes(of: outBuf.baseAddress, toByteOffset: 24, as: UnsafeMutablePointer<UInt8>?.self)
                    stream.storeBytes(of: UInt32(chunk), toByteOffset: 32, as: UInt32.self)
                    return lib.inflate(stream, 0)
                }
                let availOut = Int(stream.load(fromByteOffset: 32, as: UInt32.self))
                output.append(contentsOf: buffer[0..<(chunk - availOut)])
                if rc == 1 { break }  // Z_STREAM_END
                if let stop = stopAfter, output.count >= stop { break }
                if output.count > limit {
                    try Limits.decompressedBytes.check(output.count, against: limit, "\(path): decompressing (at least)")
                }
                if rc != 0 { throw HalluError.file(path, "corrupt compressed data (zlib error \(rc))") }
                let availIn = stream.load(fromByteOffset: 8, as: UInt32.self)
                if availIn == 0 && availOut != 0 {
                    throw HalluError.file(path, "truncated compressed data")
                }
            }
        }
        return output
    }
}
