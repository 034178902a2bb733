import Foundation

/// Loading and saving images by file content (magic bytes), so a mislabelled extension still works
/// and an unknown format is reported with the file's name.
public enum ImageFile {
    /// The formats `load` recognises.
    public enum Format: String, Sendable { case png, jpeg }

    /// Detects the format from the first bytes, or nil when unknown.
    public static func sniff(_ data: Data) -> Format? {
        let b = [UInt8](data.prefix(8))
        if b.count >= 8, b == PNGCodec.signature { return .png }
        if b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF { return .jpeg }
        return nil
    }

    /// Reads and decodes an image file (PNG or JPEG).
    public static func load(_ path: String) throws -> RGBImage {
        try decode(InputFile.read(path), path: path)
    }

    /// Decodes image bytes (PNG or JPEG); `path` names the source in errors.
    public static func decode(_ data: Data, path: String) throws -> RGBImage {
        switch sniff(data) {
        case .png: return try PNGCodec.decode(data, path: path)
        case .jpeg: return try JPEGCodec.decode(data, path: path)
        case nil:
            let ext = (path as NSString).pathExtension.lowercased()
            throw HalluError.file(path, "unknown image format (extension \"\(ext)\"; PNG and JPEG are supported)")
        }
    }

    /// Saves an image as PNG, atomically.
    public static func savePNG(_ image: RGBImage, to url: URL, compression: PNGCompression = .stored) throws {
        try AtomicFile.write(try PNGCodec.encode(image, compression: compression), to: url)
    }
}
