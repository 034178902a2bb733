import Foundation

/// The start-up check that this CPU runs the instructions hallu was compiled for.
///
/// On x86-64, CoreRuntime and the plugins are built for `-target-cpu haswell` (AVX2 and FMA) unless
/// `HALLU_TARGET_CPU` chose another target at build time. On a CPU without those instructions the
/// first one would kill the process with SIGILL, somewhere deep in a kernel; this check runs first,
/// in code compiled for the baseline CPU, and refuses with a message instead.
enum CPUCheck {
    /// Features the build needs, as /proc/cpuinfo names them.
    static var required: [String] {
        #if HALLU_REQUIRES_AVX2_FMA
        return ["avx2", "fma"]
        #else
        return []
        #endif
    }

    /// Exits with a message when the CPU lacks a required feature. `HALLU_CPUINFO` may name a file
    /// read in place of /proc/cpuinfo (to test this check).
    static func requireBuildFeatures() {
        let needed = required
        guard !needed.isEmpty else { return }
        #if os(Linux)
        let path = ProcessInfo.processInfo.environment["HALLU_CPUINFO"] ?? "/proc/cpuinfo"
        guard let info = try? String(contentsOfFile: path, encoding: .utf8) else { return }  // cannot tell: go on
        guard let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let flags = Set(flagsLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
        let missing = needed.filter { !flags.contains($0) }
        guard !missing.isEmpty else { return }
        let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "this CPU"
        let message = "hallu: this build uses \(needed.map { $0.uppercased() }.joined(separator: " and ")) instructions "
            + "(built with -target-cpu haswell), which \(model) does not have (missing: \(missing.joined(separator: ", "))).\n"
            + "Rebuild for any x86-64 CPU with: HALLU_TARGET_CPU=x86-64 swift build -c release (slower, same results).\n"
        FileHandle.standardError.write(Data(message.utf8))
        exit(3)
        #endif
    }
}
