import CoreRuntime
import HalluTestSupport
import Foundation
import Testing
import VCD

@Test func vcdNoiseScheduleMatchesTheAuthorsCode() throws {
    let g = try DecodingGolden.load("vcd")
    let schedule = g.json["schedule"] as! [String: [Double]]
    for (step, expected) in schedule {
        let c = VCDNoise.coefficients(step: Int(step)!)
        #expect(abs(Double(c.signal) - expected[0]) <= 1e-6 && abs(Double(c.noise) - expected[1]) <= 1e-6, "step \(step): \(c) vs \(expected)")
    }
    let noised = try VCDNoise.noised(g.pixels, step: 500, seed: 0)
    let expected = g.json["noised_pixels_500_seed0"] as! [Double]
    for (i, e) in expected.enumerated() { #expect(abs(Double(noised.data[i]) - e) <= 1e-5, "pixel \(i)") }
    // An image's noise does not depend on the batch it is in.
    let alone = try VCDNoise.noised(g.pixels.slice(axis: 0, 1..<2), step: 500, seed: 0)
    let per = alone.count
    #expect(Array(noised.values[per..<(2 * per)]) == alone.values)
}

@Test func vcdMatchesTheReferenceInEveryMode() throws {
    let g = try DecodingGolden.load("vcd")
    #expect(g.cases.count >= 8)
    for c in g.cases {
        let vcd = VCDMethod()
        try vcd.configure(c.options)
        let (ids, stats) = try g.generate(Generator(model: g.model, hooks: [vcd]), c)
        #expect(ids == c.ids, "\(c.mode) \(c.options)")
        // Clean and noised image in every pass: two forward passes per token.
        if c.config.numBeams == 1 { #expect(stats.forwardPasses == DecodingGolden.passes(ids, c.config, streams: 2)) }
    }
}

@Test func vcdRejectsBadOptionsNamingTheKey() {
    let m = { (o: [String: String]) in DecodingGolden.message { try VCDMethod().configure(o) } }
    #expect(m(["alfa": "1"]).contains("unknown option \"alfa\"") && m(["alfa": "1"]).contains("alpha, beta, noise_step, noise_seed"))
    #expect(m(["alpha": "-1"]).contains("vcd.alpha"))
    #expect(m(["alpha": "nan"]).contains("vcd.alpha"))
    #expect(m(["beta": "0"]).contains("vcd.beta"))
    #expect(m(["beta": "1.5"]).contains("vcd.beta"))
    #expect(m(["noise_step": "1000"]).contains("vcd.noise_step"))
    #expect(m(["noise_step": "x"]).contains("vcd.noise_step"))
    #expect(m(["noise_seed": "-3"]).contains("vcd.noise_seed"))
    #expect(m(["alpha": "0.5", "beta": "1"]) == "no error")
}
