@testable import CoreRuntime
import Testing

/// The terminal table at the end of `hallu run` names long methods and metrics in full.
@Test func runTableKeepsLongMethodAndMetricNames() throws {
    let method = "selective-eos+scoring-eos"
    let metric = "a_method_metric_with_a_long_name"
    let before = ModelMetrics(extra: [metric: 0.25, "short": 1])
    let after = ModelMetrics(extra: [metric: 0.5, "short": 2])
    let summary = RunSummary(method: method, seed: 3, seconds: 1, baseline: before, trained: after, checkpoint: "/m", steps: 7,
                             finalLoss: nil, methodMetrics: [:])
    let table = RunReport.table(summary, evaluators: [])
    let lines = table.split(separator: "\n").map(String.init)
    let header = try #require(lines.first { $0.hasPrefix("metric") })
    #expect(header.contains(" \(method) "))
    let long = try #require(lines.first { $0.hasPrefix(metric + " ") })
    let short = try #require(lines.first { $0.hasPrefix("short ") })
    // The value column is as wide as the method's name.
    #expect(long.hasSuffix("0.250  " + String(repeating: " ", count: method.count - 5) + "0.500    +0.250"))
    // Every row and the header end their columns at the same place.
    #expect(long.count == short.count && header.count == long.count)
    #expect(header.hasSuffix(method + "    change"))
}
