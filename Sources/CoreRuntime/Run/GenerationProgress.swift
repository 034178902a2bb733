import Foundation

/// A progress bar with an ETA over the tokens of one generation: a logits processor that reads
/// nothing and changes nothing, called once per sample (or beam) and step.
public final class GenerationProgress: LogitsProcessor {
    private let progress: Progress
    private var step = 0

    /// `maxNewTokens` is the bar's length (generation may stop earlier at EOS).
    public init(maxNewTokens: Int, log: @escaping (String) -> Void) {
        progress = Progress(total: max(1, maxNewTokens), unit: "token", log: log)
    }

    public func process(_ logits: UnsafeMutableBufferPointer<Float>, generated: [Int], sample: Int) {
        let now = generated.count + 1
        if now > step {
            step = now
            progress.update(step)
        }
    }

    /// Ends the bar's line.
    public func finish() { progress.finish() }
}
