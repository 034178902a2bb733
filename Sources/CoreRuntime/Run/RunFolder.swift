import Foundation

/// The layout of one run folder (`runs/<name>/`).
public struct RunFolder {
    public let url: URL
    public init(_ url: URL) { self.url = url }
    public var config: URL { url.appendingPathComponent("config.json") }
    public var metrics: URL { url.appendingPathComponent("metrics.jsonl") }
    public var checkpoint: URL { url.appendingPathComponent("checkpoint") }
    /// The final model (base weights plus adapter or merged), loadable by `hallu generate` and transformers.
    public var model: URL { url.appendingPathComponent("model") }
    public var eval: URL { url.appendingPathComponent("eval") }
    public var summary: URL { url.appendingPathComponent("summary.json") }
    public var report: URL { url.appendingPathComponent("report.html") }
    public var log: URL { url.appendingPathComponent("run.log") }
    /// Whether the run finished (summary written last).
    public var isFinished: Bool { FileManager.default.fileExists(atPath: summary.path) }
}
