import Foundation

/// A progress bar with an ETA over the tokens of one generation: a decoding hook that reads
/// nothing and changes nothing, called once per step.
public final class GenerationProgress: DecodingHook {
    public let name = "progress"
    private let progress: Progress
    private var step = 0

    /// `maxNewTokens` is the bar's length (generation may stop earlier at EOS).
    public init(maxNewTokens: Int, log: @escaping (String) -> Void) {
        progress = Progress(total: max(1, maxNewTokens), unit: "token", log: log)
    }

    public func begin(_ context: DecodingContext) throws -> DecodingNeeds { DecodingNeeds() }

    public func adjust(_ decoding: DecodingStep) throws {
        let now = (0..<decoding.rows).map { decoding.generated($0).count }.max().map { $0 + 1 } ?? step
        if now > step {
            step = now
            progress.update(step)
        }
    }

    /// Ends the bar's line.
    public func finish() { progress.finish() }
}
