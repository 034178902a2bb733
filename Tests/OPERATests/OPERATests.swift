import CoreRuntime
import HalluTestSupport
import Foundation
import OPERA
import Testing

/// The OPERA goldens (`scripts/gen_opera_goldens.py`): per case the options, the decoding settings,
/// the ids of every prompt and what the reference saw while decoding each one.
struct OPERAGolden {
    struct Events {
        var iterations: Int, rollbacks: [[Int]], unspeculated: Int, penaltyChanged: Int
    }
    struct Case {
        var options: [String: String]
        var config: GenerationConfig
        var ids: [[Int]]
        var events: [Events]
    }

    let golden: DecodingGolden
    let images: [Int]
    let cases: [Case]

    init() throws {
        golden = try DecodingGolden.load("opera")
        images = golden.json["images"] as! [Int]
        let raw = golden.json["cases"] as! [[String: Any]]
        cases = zip(golden.cases, raw).map { c, r in
            let events = (r["events"] as! [[String: Any]]).map {
                Events(iterations: $0["iterations"] as! Int, rollbacks: $0["rollbacks"] as! [[Int]],
                       unspeculated: $0["unspeculated"] as! Int, penaltyChanged: $0["penalty_changed"] as! Int)
            }
            return Case(options: c.options, config: c.config, ids: c.ids, events: events)
        }
    }

    /// Prompts `which` in one batch, each with its image.
    func inputs(_ which: [Int]) throws -> LlavaInputs {
        let pixels = try which.map { try golden.pixels.slice(axis: 0, images[$0]..<(images[$0] + 1)) }
        return LlavaInputs(ids: which.map { golden.prompts[$0] }, pixels: try Tensor.concat(pixels, axis: 0))
    }
}

@Test func operaMatchesTheReferenceAtBeamFiveAndOne() throws {
    let g = try OPERAGolden()
    #expect(g.cases.contains { $0.config.numBeams == 5 } && g.cases.contains { $0.config.numBeams == 1 })
    for c in g.cases {
        let k = c.config.numBeams, n = Int(c.options["num_attn_candidates"]!)!
        var rollbacks = 0
        for p in g.golden.prompts.indices {
            let opera = OPERAMethod()
            try opera.configure(c.options)
            let (ids, stats) = try Generator(model: g.golden.model, hooks: [opera]).generateWithStats(try g.inputs([p]), c.config)
            let e = c.events[p]
            #expect(ids == [c.ids[p]], "beam \(k) \(c.options) prompt \(p)")
            #expect(opera.rollbacks == e.rollbacks.count, "beam \(k) \(c.options) prompt \(p)")
            #expect(opera.penaltyChanges == e.penaltyChanged, "beam \(k) \(c.options) prompt \(p)")
            // The prompt once; every step n candidate passes per beam, whose pass of the chosen
            // token becomes the next step; a full pass per beam after a rollback and for a step whose
            // choice was not speculated (the retried step, or a -999 token chosen to fill the beams).
            let expected = 1 + e.iterations * n * k + e.rollbacks.count * k + e.unspeculated * k
            #expect(stats.forwardPasses == expected, "beam \(k) \(c.options) prompt \(p)")
            rollbacks += e.rollbacks.count
        }
        // The penalty decides tokens in every case, and in the scaled ones the search also goes back.
        #expect(c.events.reduce(0) { $0 + $1.penaltyChanged } > 0)
        if c.options["threshold"] != "15" { #expect(rollbacks > 0, "beam \(k) \(c.options)") }
        // One batch gives each prompt what it gets alone.
        let batch = try Generator(model: g.golden.model, hooks: [try OPERAFactory.make(c.options)])
            .generate(try g.inputs(Array(g.golden.prompts.indices)), c.config)
        #expect(batch == c.ids, "batched, beam \(k) \(c.options)")
    }
}

enum OPERAFactory {
    static func make(_ options: [String: String]) throws -> OPERAMethod {
        let m = OPERAMethod()
        try m.configure(options)
        return m
    }
}

@Test func operaIsUndefinedForSampling() throws {
    let g = try OPERAGolden()
    var cfg = GenerationConfig()
    cfg.temperature = 0.7
    let message = DecodingGolden.message {
        _ = try Generator(model: g.golden.model, hooks: [OPERAMethod()]).generate(try g.inputs([0]), cfg)
    }
    #expect(message.contains("opera: not defined for sampling"))
    #expect(message.contains("--num-beams"))
}

@Test func operaRejectsBadOptionsNamingTheKey() {
    let m = { (o: [String: String]) in DecodingGolden.message { try OPERAMethod().configure(o) } }
    #expect(m(["scale": "1"]).contains("unknown option \"scale\""))
    #expect(m(["scale_factor": "0"]).contains("opera.scale_factor"))
    #expect(m(["scale_factor": "inf"]).contains("opera.scale_factor"))
    #expect(m(["threshold": "-1"]).contains("opera.threshold"))
    #expect(m(["threshold": "1.5"]).contains("opera.threshold"))
    #expect(m(["num_attn_candidates": "0"]).contains("opera.num_attn_candidates"))
    #expect(m(["penalty_weights": "-1"]).contains("opera.penalty_weights"))
    #expect(m(["penalty_weights": "nan"]).contains("opera.penalty_weights"))
    #expect(m(["scale_factor": "20", "threshold": "2", "num_attn_candidates": "3", "penalty_weights": "2"]) == "no error")
}

@Test func operaDefaultsAreTheAuthorsForLLaVA() throws {
    let m = OPERAMethod()
    try m.configure([:])
    #expect(m.scaleFactor == 50 && m.threshold == 15 && m.candidates == 5 && m.penaltyWeight == 1)
}
