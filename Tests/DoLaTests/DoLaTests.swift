import CoreRuntime
import HalluTestSupport
import DoLa
import Foundation
import Testing

@Test func dolaMatchesTransformersInGreedyAndSampling() throws {
    let g = try DecodingGolden.load("dola")
    #expect(g.cases.count >= 6)
    for c in g.cases {
        let dola = DoLaMethod()
        try dola.configure(c.options)
        let (ids, stats) = try g.generate(Generator(model: g.model, hooks: [dola]), c)
        #expect(ids == c.ids, "\(c.mode) \(c.options)")
        // The premature layers' logits come from the same pass: one forward pass per token.
        #expect(stats.forwardPasses == DecodingGolden.passes(ids, c.config, streams: 1))
    }
}

@Test func dolaCandidateLayersFollowTransformers() throws {
    // transformers' rule: every second layer of the lower or upper half, the last 20 layers above 40.
    #expect(try DoLaMethod.candidateLayers("low", layers: 32, tiedEmbeddings: false) == Array(stride(from: 0, to: 16, by: 2)))
    #expect(try DoLaMethod.candidateLayers("high", layers: 32, tiedEmbeddings: false) == Array(stride(from: 16, to: 32, by: 2)))
    #expect(try DoLaMethod.candidateLayers("high", layers: 60, tiedEmbeddings: false) == Array(stride(from: 40, to: 60, by: 2)))
    #expect(try DoLaMethod.candidateLayers("low", layers: 60, tiedEmbeddings: true) == Array(stride(from: 2, to: 20, by: 2)))
    #expect(try DoLaMethod.candidateLayers("low", layers: 2, tiedEmbeddings: true) == [1])
    #expect(try DoLaMethod.candidateLayers("low", layers: 2, tiedEmbeddings: false) == [0])
    #expect(try DoLaMethod.candidateLayers("high", layers: 2, tiedEmbeddings: false) == [1])
    #expect(try DoLaMethod.candidateLayers("0,3,9", layers: 4, tiedEmbeddings: false) == [0, 3])
    #expect(throws: HalluError.self) { try DoLaMethod.candidateLayers("9", layers: 4, tiedEmbeddings: false) }
}

@Test func dolaRefusesBeamSearchAndBadOptions() throws {
    let g = try DecodingGolden.load("dola")
    var cfg = GenerationConfig()
    cfg.numBeams = 3
    let beam = DecodingGolden.message { _ = try Generator(model: g.model, hooks: [DoLaMethod()]).generate(g.inputs, cfg) }
    #expect(beam.contains("dola is defined for greedy decoding and sampling only"))
    let m = { (o: [String: String]) in DecodingGolden.message { try DoLaMethod().configure(o) } }
    #expect(m(["layer": "low"]).contains("did you mean \"layers\""))
    #expect(m(["layers": "middle"]).contains("dola.layers"))
    #expect(m(["layers": "1,-2"]).contains("dola.layers"))
    #expect(m(["relative_top": "0"]).contains("dola.relative_top"))
    #expect(m(["repetition_penalty": "0.5"]).contains("dola.repetition_penalty"))
    #expect(m(["layers": "low", "relative_top": "0.2", "repetition_penalty": "1"]) == "no error")
}
