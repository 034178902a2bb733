import CoreRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The corpus of cases that once crashed, hung or gave an unclear error: one folder per case under
/// `<corpus>/<surface>/`, replayed by `hallu-fuzz replay` (and by the test suite).
///
/// Files git cannot hold are kept as markers: `NAME.fifo` for a named pipe, `NAME.devzero` for a
/// link to /dev/zero, `NAME.emptydir` for an empty folder, `NAME.worldlink` for a link to the seed
/// world's images.
enum Corpus {
    /// Replaces the special files of a saved case by markers.
    static func portable(_ dir: URL) throws {
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: dir.path) {
            let url = dir.appendingPathComponent(name)
            var st = stat()
            guard lstat(url.path, &st) == 0 else { continue }
            let kind = st.st_mode & S_IFMT
            var marker: String? = nil
            if kind == S_IFIFO { marker = "fifo" }
            if kind == S_IFLNK {
                let target = (try? fm.destinationOfSymbolicLink(atPath: url.path)) ?? ""
                marker = target == "/dev/zero" ? "devzero" : "worldlink"
            }
            if kind == S_IFDIR, (try? fm.contentsOfDirectory(atPath: url.path))?.isEmpty == true { marker = "emptydir" }
            if let marker {
                try fm.removeItem(at: url)
                try Data().write(to: dir.appendingPathComponent(name + "." + marker))
            }
        }
    }

    /// Turns markers back into the special files, in a copy of the case.
    static func materialize(_ dir: URL, seeds: Seeds) throws {
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: dir.path) {
            let url = dir.appendingPathComponent(name)
            let ext = url.pathExtension, target = url.deletingPathExtension()
            switch ext {
            case "fifo": try fm.removeItem(at: url); _ = mkfifo(target.path, 0o644)
            case "devzero": try fm.removeItem(at: url); _ = symlink("/dev/zero", target.path)
            case "emptydir": try fm.removeItem(at: url); try Folders.create(target)
            case "worldlink": try fm.removeItem(at: url); _ = symlink(seeds.world.appendingPathComponent("images").path, target.path)
            default: break
            }
        }
    }

    /// Consumes every case of the corpus; returns the number that did not end well (crashes end the
    /// process, so a caller sees them as its exit status). Each case's name is printed before it runs.
    static func replay(_ corpus: URL, fixtures: URL?, scratch: URL) throws -> Int {
        let seeds = try Seeds(root: scratch.appendingPathComponent("seeds"), fixtures: fixtures)
        let fm = FileManager.default
        var bad = 0, count = 0
        for surfaceName in try fm.contentsOfDirectory(atPath: corpus.path).sorted() {
            guard let surface = Surfaces.named(surfaceName) else { continue }
            let sdir = corpus.appendingPathComponent(surfaceName)
            for caseName in try fm.contentsOfDirectory(atPath: sdir.path).sorted() {
                let work = scratch.appendingPathComponent("replay")
                try? fm.removeItem(at: work)
                try fm.copyItem(at: sdir.appendingPathComponent(caseName), to: work)
                try? fm.removeItem(at: work.appendingPathComponent("outcome.txt"))
                try materialize(work, seeds: seeds)
                FileHandle.standardError.write(Data("replay \(surfaceName)/\(caseName)\n".utf8))
                let outcome = worst(surface.consume(seeds, work))
                count += 1
                print("\(surfaceName)/\(caseName): \(outcome.label)\(outcome.message.isEmpty ? "" : ": " + outcome.message.prefix(300))")
                if outcome.rank >= 2 { bad += 1 }
            }
        }
        print("replayed \(count) cases, \(bad) not ending in success or a clear error")
        return bad
    }
}
