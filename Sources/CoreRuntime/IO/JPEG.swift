import Foundation

/// JPEG decoding through libjpeg-turbo's TurboJPEG API (libturbojpeg.so.0), loaded at run time.
/// Decoding uses the library defaults (accurate integer IDCT, smooth chroma upsampling), which are
/// also what PIL gets from libjpeg-turbo.
public enum JPEGCodec {
    private typealias InitDecompress = @convention(c) () -> UnsafeMutableRawPointer?
    private typealias DecompressHeader3 = @convention(c) (UnsafeMutableRawPointer, UnsafePointer<UInt8>, UInt,
        UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>,
        UnsafeMutablePointer<Int32>) -> Int32
    private typealias Decompress2 = @convention(c) (UnsafeMutableRawPointer, UnsafePointer<UInt8>, UInt,
        UnsafeMutablePointer<UInt8>, Int32, Int32, Int32, Int32, Int32) -> Int32
    private typealias ErrorStr2 = @convention(c) (UnsafeMutableRawPointer?) -> UnsafePointer<CChar>?
    private typealias Destroy = @convention(c) (UnsafeMutableRawPointer) -> Int32

    private struct Lib {
        let initDecompress: InitDecompress
        let header: DecompressHeader3
        let decompress: Decompress2
        let errorStr: ErrorStr2
        let destroy: Destroy
    }

    private static let lib: Lib? = {
        for name in ["libturbojpeg.so.0", "libturbojpeg.so", "libturbojpeg.dylib"] {
            guard let h = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
            guard let i = dlsym(h, "tjInitDecompress"), let hd = dlsym(h, "tjDecompressHeader3"),
                  let d = dlsym(h, "tjDecompress2"), let e = dlsym(h, "tjGetErrorStr2"),
                  let x = dlsym(h, "tjDestroy") else { continue }
            return Lib(initDecompress: unsafeBitCast(i, to: InitDecompress.self),
                       header: unsafeBitCast(hd, to: DecompressHeader3.self),
                       decompress: unsafeBitCast(d, to: Decompress2.self),
                       errorStr: unsafeBitCast(e, to: ErrorStr2.self),
                       destroy: unsafeBitCast(x, to: Destroy.self))
        }
        return nil
    }()

    /// Whether libturbojpeg could be loaded.
    public static var isAvailable: Bool { lib != nil }

    /// Decodes JPEG bytes to RGB; `path` names the file in errors.
    public static func decode(_ data: Data, path: String = "<jpeg>") throws -> RGBImage {
        guard let lib else {
            throw HalluError.file(path, "cannot decode JPEG: libturbojpeg.so.0 not found (install libturbojpeg0)")
        }
        guard let handle = lib.initDecompress() else { throw HalluError.file(path, "tjInitDecompress failed") }
        defer { _ = lib.destroy(handle) }
        let bytes = [UInt8](data)
        guard !bytes.isEmpty else { throw HalluError.file(path, "empty JPEG file") }
        func message() -> String {
            guard let p = lib.errorStr(handle) else { return "unknown error" }
            return String(cString: p)
        }
        var w: Int32 = 0, h: Int32 = 0, sub: Int32 = 0, cs: Int32 = 0
        let rc = bytes.withUnsafeBufferPointer { lib.header(handle, $0.baseAddress!, UInt($0.count), &w, &h, &sub, &cs) }
        guard rc == 0, w > 0, h > 0 else { throw HalluError.file(path, "bad JPEG header: \(message())") }
        let size = "\(path): \(w)x\(h) JPEG"
        let pixels = try CheckedSize.multiply(Int(w), Int(h), size)
        try Limits.imagePixels.check(pixels, size)
        try HostMemory.check(count: pixels, elementSize: 3, "decoding \(size)")
        var px = [UInt8](repeating: 0, count: pixels * 3)
        let tjpfRGB: Int32 = 0
        let rc2 = bytes.withUnsafeBufferPointer { src in
            px.withUnsafeMutableBufferPointer { dst in
                lib.decompress(handle, src.baseAddress!, UInt(src.count), dst.baseAddress!, w, w * 3, h, tjpfRGB, 0)
            }
        }
        guard rc2 == 0 else { throw HalluError.file(path, "JPEG decode failed: \(message())") }
        return try RGBImage(width: Int(w), height: Int(h), pixels: px)
    }
}
