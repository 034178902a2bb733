import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

@Suite struct SweepResultsTests {
    @Test func meanAndSampleStandardDeviation() throws {
        let s = try #require(SweepStat([1, 2, 3, 4]))
        #expect(s.mean == 2.5)
        #expect(abs(s.std! - (5.0 / 3.0).squareRoot()) < 1e-15)
        #expect(s.n == 4)
        let one = try #require(SweepStat([0.25]))
        #expect(one.mean == 0.25 && one.std == nil)
        #expect(SweepStat([]) == nil)
        #expect(SweepStat([0.1, 0.1, 0.1])?.std == 0)
    }

    static func summary(chairI: Double, len: Double, acc: Double, loss: Double, seconds: Double) -> RunSummary {
        let chair = CHAIRReport(chairS: chairI * 2, chairI: chairI, recall: 0.5, len: len, n: 10, mentions: 20, hallucinatedMentions: 2,
                                hallucinatedCaptions: 1, recalledObjects: 5, groundTruthObjects: 10, unknownImages: 0, unknownImageExamples: [])
        func pope(_ a: Double) -> POPEMetrics {
            POPEMetrics(accuracy: a, precision: 0.5, recall: 0.5, f1: a - 0.1, yesRatio: 0.5, n: 10,
                        truePositives: 1, falsePositives: 1, trueNegatives: 1, falseNegatives: 1)
        }
        let shr = SHRReport(shr: chairI / 2, sentences: 4, hallucinated: 1, hallucinatedWordsRatio: 0.1, n: 2, unjudged: 0,
                            sentencesPerImage: 2, wordsPerImage: 9, hallucinatedSentencesPerImage: 0.5, hallucinatedWordsPerImage: 1,
                            ngramRepetition: [:], judge: "ground-truth")
        let m = try! ModelMetrics(chair: chair, pope: POPEReport(splits: [("random", pope(acc)), ("adversarial", pope(acc - 0.2))]),
                             shr: shr, extra: nil, settings: nil)
        return RunSummary(method: "x", seed: 0, seconds: seconds, baseline: nil, trained: m, checkpoint: "/c", steps: 3,
                          finalLoss: loss, methodMetrics: [:])
    }

    /// A sweep folder with two configurations of three seeds: a finishes all three, b one
    /// (seed 0 was interrupted, seed 2 failed).
    static func makeSweep() throws -> SweepFolder {
        let spec = try SweepSpec.parse(OrderedJSON.parse(Data(#"{"name": "agg", "grid": {"method": ["a", "b"]}, "seeds": [0, 1, 2]}"#.utf8)),
                                       path: "s.json", defaultName: "agg")
        let plan = try SweepPlan.expand(spec, path: "s.json")
        let folder = SweepFolder(TestPaths.tempDir("sweep-agg"))
        try plan.write(to: folder.url)
        func finish(_ i: Int, _ s: RunSummary, losses: [Double]) throws {
            let run = folder.cell(plan.cells[i].id)
            try CheckpointJSON.write(s, to: run.summary)
            let lines = losses.enumerated().map { "{\"loss\":\($0.element),\"step\":\($0.offset + 1)}" }
            try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: run.metrics)
        }
        try finish(0, summary(chairI: 0.1, len: 10, acc: 0.8, loss: 1.0, seconds: 3), losses: [3, 2, 1.0])
        try finish(1, summary(chairI: 0.2, len: 12, acc: 0.7, loss: 1.5, seconds: 4), losses: [3, 2.5, 1.5])
        try finish(2, summary(chairI: 0.4, len: 14, acc: 0.9, loss: 0.5, seconds: 5), losses: [2, 1, 0.5])
        try FileManager.default.createDirectory(at: folder.cell(plan.cells[3].id).url, withIntermediateDirectories: true)
        try finish(4, summary(chairI: 0.05, len: 8, acc: 0.6, loss: 2.0, seconds: 6), losses: [4, 3, 9, 2.0])
        try AtomicFile.writeJSON(["status": "failed", "message": "boom"], to: folder.status(plan.cells[5].id))
        return folder
    }

    @Test func aggregatesPerConfigurationOverFinishedSeeds() throws {
        let folder = try Self.makeSweep()
        let r = try SweepResults.collect(folder)
        #expect(r.cellStates == [.done, .done, .done, .interrupted, .done, .failed])
        #expect(r.metrics.map(\.id) == ["chair_s", "chair_i", "chair_recall", "chair_len", "pope_random_acc", "pope_random_f1",
                                        "pope_random_yes", "pope_adversarial_acc", "pope_adversarial_f1", "pope_adversarial_yes",
                                        "shr", "final_loss", "seconds"])
        #expect(r.rows.map(\.configuration.label) == ["a", "b"])
        let a = r.rows[0], b = r.rows[1]
        #expect(a.seeds == [0, 1, 2] && a.planned == 3)
        #expect(b.seeds == [1] && b.planned == 3)
        let ci = try #require(a.stats["chair_i"])
        #expect(abs(ci.mean - 0.7 / 3) < 1e-15)
        // Sample standard deviation of 0.1, 0.2, 0.4: sqrt(((−0.4/3)² + (−0.1/3)² + (0.5/3)²) / 2).
        #expect(abs(ci.std! - (0.42 / 9 / 2).squareRoot()) < 1e-12)
        #expect(abs(a.stats["pope_adversarial_acc"]!.mean - 0.6) < 1e-12)
        #expect(a.stats["final_loss"]!.mean == 1.0)
        #expect(abs(a.stats["final_loss"]!.std! - 0.5) < 1e-15)
        #expect(b.stats["chair_i"]! == SweepStat([0.05])!)
        #expect(b.stats["seconds"]!.mean == 6)
    }

    @Test func tablesAreDeterministicAndComplete() throws {
        let folder = try Self.makeSweep()
        let r = try SweepResults.collect(folder)
        try r.write()
        let csv1 = try Data(contentsOf: folder.resultsCSV), md1 = try Data(contentsOf: folder.resultsMarkdown)
        let json1 = try Data(contentsOf: folder.resultsJSON), html1 = try Data(contentsOf: folder.report)
        try SweepResults.collect(folder).write()
        #expect(try Data(contentsOf: folder.resultsCSV) == csv1)
        #expect(try Data(contentsOf: folder.resultsMarkdown) == md1)
        #expect(try Data(contentsOf: folder.resultsJSON) == json1)
        #expect(try Data(contentsOf: folder.report) == html1)

        let csv = String(decoding: csv1, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(csv.count == 3)
        #expect(csv[0].hasPrefix("configuration,label,method,n,planned,seeds,chair_s_mean,chair_s_std,chair_i_mean,chair_i_std,"))
        #expect(csv[0].hasSuffix(",final_loss_mean,final_loss_std,seconds_mean,seconds_std"))
        let a = csv[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(Array(a[1...7]) == ["a", "a", "3", "3", "0 1 2", "0.466667", "0.305505"])
        #expect(Array(a[8...9]) == ["0.233333", "0.152753"])
        let b = csv[2].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(Array(b[1...9]) == ["b", "b", "1", "3", "1", "0.100000", "", "0.050000", ""])

        let md = String(decoding: md1, as: UTF8.self)
        #expect(md.contains("4 of 6 cells finished."))
        #expect(md.contains("| a | 3/3 | 0.467 ± 0.306 | 0.233 ± 0.153 | 0.500 ± 0.000 | 12.0 ± 2.0 | 0.800 ± 0.100 |"))
        #expect(md.contains("| b | 1/3 | 0.100 | 0.050 | 0.500 | 8.0 | 0.600 |"))
        #expect(md.contains("Failed cells (see cells/<id>/error.txt): `b_s2`"))

        let json = try #require(try JSONSerialization.jsonObject(with: json1) as? [String: Any])
        let confs = try #require(json["configurations"] as? [[String: Any]])
        let stat = try #require((confs[0]["metrics"] as? [String: Any])?["chair_i"] as? [String: Any])
        #expect(abs((stat["mean"] as! Double) - 0.7 / 3) < 1e-15)
        #expect((confs[1]["metrics"] as? [String: [String: Any]])?["chair_i"]?["std"] is NSNull)
        #expect((json["cells"] as? [[String: Any]])?.map { $0["state"] as! String } == ["done", "done", "done", "interrupted", "done", "failed"])
    }

    @Test func reportIsSelfContainedSVG() throws {
        let folder = try Self.makeSweep()
        let r = try SweepResults.collect(folder)
        let html = SweepReport.html(r)
        #expect(!html.contains("<script"))
        // No network: the only URL is the SVG namespace.
        #expect(!html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http"))
        // A bar chart per metric, the scatter and the loss curves.
        #expect(html.components(separatedBy: "<svg").count - 1 == r.metrics.count + 2)
        #expect(html.contains("CHAIRi vs words per description"))
        #expect(html.contains("loss per optimiser step"))
        #expect(html.contains("boom"))
        // Error bars: configuration a has three seeds, so its bars carry whiskers.
        #expect(html.contains("stroke=\"#222\""))
    }

    @Test func resumedRunsKeepTheLastRecordPerStep() throws {
        let f = TestPaths.tempDir("sweep-curve").appendingPathComponent("metrics.jsonl")
        try AtomicFile.write("{\"loss\":5,\"step\":1}\n{\"loss\":4,\"step\":2}\n{\"loss\":6,\"step\":1}\n{\"loss\":3,\"step\":2}\n{\"loss\":2,\"step\":3}\n", to: f)
        #expect(SweepReport.lossCurve(f).map(\.1) == [6, 3, 2])
    }

    @Test func reportOfAFolderWithoutPlanSaysSo() throws {
        let dir = TestPaths.tempDir("sweep-none")
        #expect(throws: HalluError.self) { try SweepResults.collect(SweepFolder(dir)) }
        try AtomicFile.write("{\"name\": \"x\", \"cells\": [{\"id\": 3}]}", to: dir.appendingPathComponent("plan.json"))
        do { _ = try SweepResults.collect(SweepFolder(dir)); Issue.record("expected an error") } catch let e as HalluError {
            #expect(e.message.contains("plan.json: cell 0: missing or invalid key"))
        }
    }
}
