import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HACL

@Test func haclCaptionAsStringOrList() throws {
    let dir = TestPaths.tempDir("hacl")
    try AtomicFile.write(try PNGCodec.encode(RGBImage(width: 2, height: 2)), to: dir.appendingPathComponent("train2014/a.png"))
    let p = try write("""
    [{"image": "train2014/a.png", "text": "A cat.", "Hallucination caption": "A dog.",
      "conversations": [{"from": "human", "value": "Give a brief description of the image.\\n<image>"}, {"from": "gpt", "value": "A cat."}]},
     {"image": "train2014/a.png", "text": "A cup.", "Hallucination caption": ["A bowl.", "A red cup."]}]
    """, "hacl.json", in: dir)
    let ex = try HACLData.examples(p, images: ImageResolver(root: dir))
    #expect(ex.count == 2)
    #expect(ex[0].prompt == "Give a brief description of the image." && ex[0].caption == "A cat." && ex[0].hallucinatedCaptions == ["A dog."])
    #expect(ex[1].hallucinatedCaptions == ["A bowl.", "A red cup."] && ex[1].id == "1")
}

