import Foundation

/// The range of every run setting, checked where a setting is parsed (a config file, `--set`, a
/// resumed run's config.json): an error names the key, the value and what is allowed.
enum RunConfigRanges {
    static let presets = ["tiny", "small"]
    static let schedules = ["cosine", "linear", "constant"]
    /// `Parallel` uses at most this many threads.
    static let maxThreads = 256
    static let maxGradAccum = 65_536
    static let maxEpochs = 1_000_000.0

    static func fail(_ key: String, _ problem: String) -> HalluError { HalluError("\(key): \(problem)") }

    static func atLeast(_ v: Int, _ minimum: Int, _ key: String) throws {
        guard v >= minimum else { throw fail(key, "must be at least \(minimum), got \(v)") }
    }

    static func within(_ v: Int, _ range: ClosedRange<Int>, _ key: String) throws {
        guard range.contains(v) else { throw fail(key, "must be from \(range.lowerBound) to \(range.upperBound), got \(v)") }
    }

    static func finite(_ v: Double, _ key: String, atLeast minimum: Double = 0, above: Bool = false) throws {
        guard v.isFinite else { throw fail(key, "must be a finite number, got \(v)") }
        if above {
            guard v > minimum else { throw fail(key, "must be above \(minimum), got \(v)") }
        } else {
            guard v >= minimum else { throw fail(key, "must be at least \(minimum), got \(v)") }
        }
    }

    static func fraction(_ v: Double, _ key: String, below1: Bool = false) throws {
        guard v.isFinite, v >= 0, below1 ? v < 1 : v <= 1 else {
            throw fail(key, "must be in [0, 1\(below1 ? ")" : "]"), got \(v)")
        }
    }

    static func oneOf(_ v: String, _ allowed: [String], _ key: String) throws {
        guard allowed.contains(v) else {
            let hint = Suggest.nearest(v, in: allowed).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw fail(key, "\"\(v)\" is not one of \(allowed.joined(separator: ", "))\(hint)")
        }
    }

    /// A loss weight (`weight.METHOD`): a finite number, not negative.
    static func weight(_ w: Double, key: String) throws {
        try finite(w, key)
    }
}

extension RunConfig {
    /// Checks the range of every setting; errors name the key (e.g. "batch_size: must be at least 1, got 0").
    func checkRanges() throws {
        typealias R = RunConfigRanges
        let ids = methodIds
        guard !method.isEmpty, !ids.contains(where: \.isEmpty) else {
            throw R.fail("method", "\"\(method)\" has an empty method id (write ids joined by +, e.g. sft+my-method)")
        }
        // Method ids name run folders: letters, digits, '-', '_' and '.' only.
        if let bad = ids.first(where: { id in id.hasPrefix(".") || !id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) } }) {
            throw R.fail("method", "\"\(bad)\" is not a method id (letters, digits, -, _ and . only)")
        }
        try R.oneOf(preset, R.presets, "preset")
        if let steps { try R.atLeast(steps, 1, "steps") }
        if let epochs {
            guard epochs.isFinite, epochs > 0, epochs <= R.maxEpochs else {
                throw R.fail("epochs", "must be above 0 and at most \(Int(R.maxEpochs)), got \(epochs)")
            }
        }
        try Limits.batchSize.check(batchSize, "batch_size")
        try R.atLeast(batchSize, 1, "batch_size")
        try R.within(gradAccum, 1...R.maxGradAccum, "grad_accum")
        try R.finite(lr, "lr")
        if let projectorLr { try R.finite(projectorLr, "projector_lr") }
        try R.finite(weightDecay, "weight_decay")
        try R.oneOf(schedule, R.schedules, "schedule")
        try R.fraction(minLrRatio, "min_lr_ratio")
        try R.fraction(warmupRatio, "warmup_ratio")
        if let warmupSteps { try R.atLeast(warmupSteps, 0, "warmup_steps") }
        try R.finite(clip, "clip")
        if let threads { try R.within(threads, 1...R.maxThreads, "threads") }
        try R.atLeast(loraR, 1, "lora_r")
        try Limits.loraRank.check(loraR, "lora_r")
        try R.finite(loraAlpha, "lora_alpha", above: true)
        try R.fraction(loraDropout, "lora_dropout", below1: true)
        guard !loraTargets.isEmpty, !loraTargets.contains(where: { $0.isEmpty }) else {
            throw R.fail("lora_targets", "must name at least one module (e.g. q_proj,v_proj), got \(loraTargets)")
        }
        try R.atLeast(saveEvery, 0, "save_every")
        try R.atLeast(keepLast, 1, "keep_last")
        try R.atLeast(evalEvery, 0, "eval_every")
        try R.atLeast(logEvery, 0, "log_every")
        if let evalImages { try R.atLeast(evalImages, 1, "eval_images") }
        try R.atLeast(evalMaxNewTokens, 1, "eval_max_new_tokens")
        try Limits.newTokens.check(evalMaxNewTokens, "eval_max_new_tokens")
        for (m, w) in weights.sorted(by: { $0.key < $1.key }) { try R.weight(w, key: "weight.\(m)") }
        guard !runsDir.isEmpty else { throw R.fail("runs_dir", "must name a folder") }
        if let name {
            guard !name.isEmpty, !name.utf8.contains(0) else { throw R.fail("name", "must be a folder name, got \"\(name)\"") }
        }
        if plugins.contains(where: \.isEmpty) { throw R.fail("plugins", "holds an empty path") }
    }

    /// The ranges and the rules between settings: loss weights and options only for methods the run
    /// has. Called once a config is complete (after the config file, flags and `--set`).
    public func validate() throws {
        try checkRanges()
        let ids = methodIds
        // Options may name the run's methods and its decoding method (`--decode NAME --set NAME.KEY=VALUE`).
        let optionIds = ids + (decodeId.map { [$0] } ?? [])
        func known(_ id: String, _ key: String, among ids: [String]) throws {
            guard ids.contains(id) else {
                let hint = Suggest.nearest(id, in: ids).map { " (did you mean \"\($0)\"?)" } ?? ""
                throw HalluError("\(key): this run has no method \"\(id)\"\(hint); its methods are \(ids.joined(separator: ", "))")
            }
        }
        for m in weights.keys.sorted() { try known(m, "weight.\(m)", among: ids) }
        for (m, options) in methodOptions.sorted(by: { $0.key < $1.key }) {
            try known(m, "\(m).\(options.keys.sorted().first ?? "")", among: optionIds)
        }
    }
}
