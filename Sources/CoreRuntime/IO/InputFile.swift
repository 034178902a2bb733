import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Opening and reading files that hold input data, and plain-language file errors.
///
/// Only regular files are read as data: a named pipe (FIFO) would block a reader forever, a device
/// may never end, and a folder is not data. Files are opened non-blocking, so that even opening a
/// FIFO returns at once, and checked with `fstat` on the open descriptor (no race with a rename).
/// Every error names the path and says what to do, in place of Foundation's
/// "NSCocoaErrorDomain error 256" or "You don't have permission".
public enum InputFile {
    /// Reads a regular file whole.
    public static func read(_ path: String) throws -> Data {
        let (fd, size) = try openRegular(path)
        defer { close(fd) }
        try HostMemory.check(bytes: size, "reading \(path)")
        var data = Data(count: size)
        var done = 0
        let failure: Int32? = data.withUnsafeMutableBytes { buf -> Int32? in
            guard let base = buf.baseAddress else { return nil }
            while done < size {
                let n = Glibc.read(fd, base + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if n == 0 { break }  // the file shrank while being read
                done += n
            }
            return nil
        }
        if let e = failure { throw HalluError.file(path, "could not read: \(describe(errno: e))") }
        if done < size { data.count = done }
        return data
    }

    /// Opens `path` read-only and returns the descriptor and the file's size; throws unless it is a
    /// regular file. The caller closes the descriptor.
    public static func openRegular(_ path: String) throws -> (fd: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw HalluError.file(path, describe(errno: errno, opening: true)) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw HalluError.file(path, "could not inspect the file: \(describe(errno: e))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw HalluError.file(path, "\(kind(st.st_mode)), not a regular file; give the path of a data file")
        }
        return (fd, Int(st.st_size))
    }

    /// Throws unless `path` exists and is a regular file (nothing is read).
    public static func requireRegular(_ path: String) throws {
        let (fd, _) = try openRegular(path)
        close(fd)
    }

    /// What a non-regular file is, for errors.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "is a folder"
        case S_IFIFO: return "is a named pipe (FIFO)"
        case S_IFSOCK: return "is a socket"
        case S_IFCHR: return "is a character device"
        case S_IFBLK: return "is a block device"
        default: return "is a special file"
        }
    }

    /// A short explanation of an errno value, with what to do where there is something to do.
    public static func describe(errno e: Int32, opening: Bool = false) -> String {
        switch e {
        case ENOENT: return opening ? "no such file" : "no such file or folder"
        case EACCES, EPERM: return "permission denied (check the permissions of the file and its folders)"
        case EISDIR: return "is a folder, not a file"
        case ENOTDIR: return "a part of the path is not a folder"
        case ELOOP: return "too many levels of symbolic links"
        case ENAMETOOLONG: return "the path is too long"
        case EMFILE, ENFILE: return "too many open files (raise the limit with ulimit -n)"
        case ENOSPC: return "no space left on the device (free some space and run again)"
        case EDQUOT: return "disk quota exceeded (free some space and run again)"
        case EROFS: return "the file system is read-only (choose a writable folder)"
        case EIO: return "input/output error (the disk or network file system failed)"
        case EEXIST: return "already exists"
        case EXDEV: return "cannot move across file systems"
        default: return String(cString: strerror(e))
        }
    }

    /// A plain explanation of an error thrown by Foundation's file APIs: the POSIX cause when
    /// Foundation carries one, else a description of its code; a `HalluError`'s own message as is.
    public static func describe(_ error: Error) -> String {
        if let h = error as? HalluError { return h.message }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return describe(errno: Int32(ns.code)) }
        if let under = ns.userInfo[NSUnderlyingErrorKey] as? NSError, under.domain == NSPOSIXErrorDomain {
            return describe(errno: Int32(under.code))
        }
        if ns.domain == NSCocoaErrorDomain {
            switch ns.code {
            case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "no such file or folder"
            case NSFileReadNoPermissionError, NSFileWriteNoPermissionError:
                return "permission denied (check the permissions of the file and its folders)"
            case NSFileWriteOutOfSpaceError: return "no space left on the device (free some space and run again)"
            case NSFileWriteVolumeReadOnlyError: return "the file system is read-only (choose a writable folder)"
            case NSFileWriteFileExistsError: return "already exists"
            case NSFileReadCorruptFileError: return "the file is corrupt"
            case NSFileReadInapplicableStringEncodingError: return "the file is not UTF-8 text"
            default: return "file operation failed (error \(ns.code))"
            }
        }
        return "\(error)"
    }
}

/// Creating folders with errors that name the folder and say what to do.
public enum Folders {
    /// Creates `url` and its parents; an existing folder is fine, an existing file is an error.
    public static func create(_ url: URL) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) {
            if isDir.boolValue { return }
            throw HalluError.file(url.path, "exists and is not a folder")
        }
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw HalluError.file(url.path, "could not create the folder: \(InputFile.describe(error))")
        }
    }
}
