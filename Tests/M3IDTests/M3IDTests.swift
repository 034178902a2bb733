import CoreRuntime
import HalluTestSupport
import Foundation
import M3ID
import Testing

@Test func m3idMatchesTheReferenceInEveryMode() throws {
    let g = try DecodingGolden.load("m3id")
    #expect(g.cases.count >= 8)
    for c in g.cases {
        let m3id = M3IDMethod()
        try m3id.configure(c.options)
        let ids = try g.generate(Generator(model: g.model, hooks: [m3id]), c).ids
        #expect(ids == c.ids, "\(c.mode) \(c.options)")
    }
}

@Test func m3idRejectsBadOptionsNamingTheKey() {
    let m = { (o: [String: String]) in DecodingGolden.message { try M3IDMethod().configure(o) } }
    #expect(m(["lamda": "1"]).contains("did you mean \"lambda\""))
    #expect(m(["lambda": "0"]).contains("m3id.lambda"))
    #expect(m(["lambda": "inf"]).contains("m3id.lambda"))
    #expect(m(["alpha": "0"]).contains("m3id.alpha"))
    #expect(m(["alpha": "2"]).contains("m3id.alpha"))
    #expect(m(["lambda": "0.1", "alpha": "1"]) == "no error")
}
