import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes files so that a crash or a full disk never leaves a half-written file behind:
/// the bytes go to a temporary file in the same folder, which is then renamed over the target.
/// Errors name the file and say what to do (a read-only folder, a full disk).
public enum AtomicFile {
    /// Atomically replaces `url` with `data`, creating parent folders as needed.
    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try Folders.create(dir)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw HalluError.file(url.path, "could not write: \(InputFile.describe(errno: errno))")
        }
        var failure: Int32? = data.withUnsafeBytes { buf -> Int32? in
            var done = 0
            while done < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return nil
        }
        if close(fd) != 0 && failure == nil { failure = errno }
        if failure == nil && rename(tmp.path, url.path) != 0 { failure = errno }
        if let e = failure {
            unlink(tmp.path)
            throw HalluError.file(url.path, "could not write: \(InputFile.describe(errno: e))")
        }
    }

    /// Atomically writes a UTF-8 string.
    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }

    /// Atomically writes a JSON value (objects get sorted keys, so output is byte-stable).
    public static func writeJSON(_ object: Any, to url: URL, pretty: Bool = true) throws {
        var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        if pretty { options.insert(.prettyPrinted) }
        guard JSONSerialization.isValidJSONObject(object) else {
            throw HalluError.file(url.path, "could not write: the value is not representable as JSON (a NaN or infinite number?)")
        }
        try write(JSONSerialization.data(withJSONObject: object, options: options), to: url)
    }
}
