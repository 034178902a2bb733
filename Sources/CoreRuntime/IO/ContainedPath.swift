import Foundation

/// Keeps names from input inside the folder they belong to: a run name inside the runs folder, an
/// image path of a dataset inside the data folder.
///
/// The check is lexical: a name is joined to its folder and `.` and `..` are resolved without
/// following symbolic links, so a data folder may link to images kept elsewhere (its owner made
/// the link), while a record cannot name `/etc/passwd` or `../../secret.png`. Absolute names and
/// names that climb out are refused unless the user allowed it explicitly (`--allow-outside`).
public enum ContainedPath {
    /// `path` with `.` and `..` resolved and duplicate slashes removed, without touching the disk.
    /// A `..` at the root stays at the root, as the kernel resolves it.
    public static func normalized(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for c in path.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." {
                if let last = parts.last, last != ".." { parts.removeLast() } else if !absolute { parts.append(c) }
                continue
            }
            parts.append(c)
        }
        let body = parts.joined(separator: "/")
        return absolute ? "/" + body : (body.isEmpty ? "." : body)
    }

    /// Whether `path` (absolute) lies inside `folder` (absolute) or is the folder itself, lexically.
    public static func isInside(_ path: String, _ folder: String) -> Bool {
        let p = normalized(path), f = normalized(folder)
        if f == "/" { return p.hasPrefix("/") }
        return p == f || p.hasPrefix(f + "/")
    }

    /// The absolute path of `name` inside `folder`. An absolute `name`, or one that leaves the
    /// folder, is an error naming `what` unless `allowOutside`.
    /// - Parameters:
    ///   - what: where the name came from, e.g. "data.json:3: image" or "--name".
    ///   - flag: how the user allows names outside the folder, named in the error.
    public static func resolve(_ name: String, in folder: URL, allowOutside: Bool = false, what: String,
                               flag: String = "--allow-outside") throws -> String {
        try resolve(name, from: folder.path, keptIn: folder.path, allowOutside: allowOutside, what: what, flag: flag)
    }

    /// `name` joined to `start` (a folder inside `container`), which must stay inside `container`
    /// unless `allowOutside`; errors quote `name` as the input gave it.
    public static func resolve(_ name: String, from start: String, keptIn container: String, allowOutside: Bool = false,
                               what: String, flag: String = "--allow-outside") throws -> String {
        let base = normalized(container)
        guard !name.isEmpty else { throw HalluError("\(what): empty path") }
        guard !name.utf8.contains(0) else { throw HalluError("\(what): the path contains a NUL byte") }
        let joined = name.hasPrefix("/") ? normalized(name) : normalized(start + "/" + name)
        if allowOutside || isInside(joined, base) { return joined }
        let why = name.hasPrefix("/") ? "is an absolute path" : "leaves the folder"
        throw HalluError("\(what): \"\(name)\" \(why); paths must stay inside \(base) (pass \(flag) to allow this)")
    }
}
