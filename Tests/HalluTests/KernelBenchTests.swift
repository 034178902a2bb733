import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

@Test func benchModelSuiteRunsWithoutReference() throws {
    var o = ModelBench.Options.quick
    o.useReference = false
    o.newTokens = 4
    var lines: [String] = []
    let results = try ModelBench.run(o, log: { lines.append($0) })
    let names = results.map(\.name)
    #expect(names.contains { $0.hasPrefix("sft step (small, batch 8)") })
    #expect(names.contains { $0.hasPrefix("sft step (small, batch 64)") })
    #expect(names.contains { $0.hasPrefix("dpo step") })
    #expect(names.contains { $0.hasPrefix("greedy generation") && $0.contains("batch 1,") })
    #expect(names.contains { $0.hasPrefix("peak rss lora dpo step / lora sft step") })
    for r in results {
        #expect(r.hallu > 0 && r.hallu.isFinite, "\(r.name)")
        #expect(r.reference == nil && r.ratio == nil, "\(r.name)")
    }
    // The contract's keys, with null for a missing reference.
    let json = try JSONSerialization.jsonObject(with: Bench.json(results)) as! [[String: Any]]
    #expect(Set(json[0].keys) == ["name", "unit", "hallu", "reference", "reference_name", "ratio", "peak_rss_mb"])
    #expect(json[0]["reference"] is NSNull)
    #expect(lines.contains { $0.contains("reference disabled") })
}

@Test func benchRejectsUnknownSuitesAndRendersMarkdown() throws {
    #expect(throws: HalluError.self) { try Bench.run(suite: "bogus") }
    #expect(try Bench.run(suite: "e2e").isEmpty)
    let md = Bench.markdown([BenchResult(name: "x", unit: "tokens/s", hallu: 1500, reference: 1000,
                                         referenceName: "pytorch-2.13-cpu", peakRssMB: 50)])
    #expect(md.contains("| x | tokens/s | 1500 | 1000 | pytorch-2.13-cpu | 1.50x | 50.0 |"))
}

@Test func benchWorkloadsMatchTheirDescription() throws {
    let sft = BenchWorkload.sft(batch: 8)
    #expect(sft.ids.allSatisfy { (40...60).contains($0.count) })
    #expect(sft.ids.allSatisfy { $0.filter { $0 == BenchWorkload.imageToken }.count == 1 })
    #expect(sft.tokens(imageTokens: 16) == sft.ids.reduce(0) { $0 + $1.count + 15 })
    let pairs = BenchWorkload.pairs(batch: 4)
    #expect(pairs.ids.count == 8 && pairs.pixels.shape[0] == 4)
    for s in 0..<4 { #expect(pairs.ids[s].count == pairs.ids[s + 4].count && pairs.ids[s] != pairs.ids[s + 4]) }
    // Same inputs every time: the reference reads them from JSON.
    #expect(try BenchWorkload.sft(batch: 2).json() == BenchWorkload.sft(batch: 2).json())
}

@Test func gemmSplitOverThreadsMatchesOneThread() throws {
    // The product hallu splits across its pool equals the single-threaded one (k is never split).
    var rng = KT.Random(5)
    let (m, n, k) = (200, 96, 72)
    let a = rng.floats(m * k), b = rng.floats(n * k)
    func run(_ threads: Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        Parallel.withThreadLimit(threads) {
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                BLAS.sgemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: pa.baseAddress!, lda: k,
                           b: pb.baseAddress!, ldb: k, beta: 0, c: pc.baseAddress!, ldc: n)
            }}}
        }
        return c
    }
    let one = run(1), two = run(2)
    var worst: Float = 0
    for i in 0..<(m * n) {
        var ref: Float = 0
        let r = i / n, c = i % n
        for p in 0..<k { ref += a[r * k + p] * b[c * k + p] }
        worst = max(worst, abs(one[i] - ref))
    }
    #expect(worst < 1e-4)
    #expect(two == run(2))
    #expect(zip(one, two).allSatisfy { abs($0 - $1) < 1e-4 })
}

@Test func procStatusFieldsParseAtEverySize() throws {
    // The kernel writes a tab after the name and pads values shorter than eight digits with
    // spaces; from 10 GB on (eight digits of kB) there is only the tab.
    let status = "Name:\thallu\nVmPeak:\t  987654 kB\nVmHWM:\t14450000 kB\nVmRSS:\t    2048 kB\n"
    #expect(BenchResult.statusKilobytes("VmHWM", in: status) == 14_450_000)
    #expect(BenchResult.statusKilobytes("VmRSS", in: status) == 2048)
    #expect(BenchResult.statusKilobytes("VmPeak", in: status) == 987_654)
    #expect(BenchResult.statusKilobytes("VmSwap", in: status) == nil)
    // The live file: this process is resident and its peak is at least its current size.
    let rss = PeakMemory.currentRSSMB(), peak = BenchResult.currentPeakRSSMB()
    #expect(rss > 0 && peak >= rss)
}
