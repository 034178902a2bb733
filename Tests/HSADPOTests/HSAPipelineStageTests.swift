import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HSADPO

/// A kitchen with a small red cup (top left), a large blue bowl to its right and a small white dog
/// below the cup; the bowl is right of the dog.
func pipelineKitchen() -> SceneFacts {
    SceneFacts(objects: [SceneFacts.Object(category: "cup", colour: "red", size: "small"),
                         SceneFacts.Object(category: "bowl", colour: "blue", size: "large"),
                         SceneFacts.Object(category: "dog", colour: "white", size: "small")],
               relations: [SceneFacts.Relation(subject: 0, relation: "left of", object: 1),
                           SceneFacts.Relation(subject: 0, relation: "above", object: 2),
                           SceneFacts.Relation(subject: 1, relation: "right of", object: 2)])
}

func pipelineTruth(_ facts: SceneFacts, image: String = "/data/images/train/000001.png") -> SceneTruth {
    SceneTruth(entries: [SceneTruth.Entry(id: 1, split: "train", image: image, sceneType: "kitchen", facts: facts)])
}

@Test func sentenceSplittingKeepsPeriodsRepeatsAndUnfinishedEnds() {
    #expect(DescriptionSentences.split("The image shows a park. There is a red cup at the top left.")
            == ["The image shows a park.", "There is a red cup at the top left."])
    #expect(DescriptionSentences.split("  A dog.  A dog. There is a red") == ["A dog.", "A dog.", "There is a red"])
    #expect(DescriptionSentences.split("") == [])
    #expect(DescriptionSentences.split("It is 3.5 m long. Ok!") == ["It is 3.5 m long.", "Ok!"])
    #expect(DescriptionSentences.join(["A.", "B."]) == "A. B.")
}

@Test func groundTruthDetectorClassifiesTypeAndSeverity() throws {
    let d = GroundTruthDetector(truth: pipelineTruth(pipelineKitchen()))
    let cases: [(String, HallucinationType?)] = [
        ("The image shows a kitchen.", nil),
        ("There is a red cup at the top left.", nil),
        ("There is a large blue bowl to the right of the cup.", nil),
        ("There is a white dog below the cup.", nil),
        ("There is a green cup at the top left.", .attribute),           // wrong colour
        ("There is a large white dog below the cup.", .attribute),       // the dog is small
        ("There is a blue bowl to the left of the cup.", .relation),     // it is to the right
        ("There is a white dog above the cup.", .relation),
        ("There is also a sink in the kitchen.", .object),               // no sink
        ("There is a red truck at the top left.", .object),
        ("There is a white dog next to the truck.", .object),            // refers to the absent truck
    ]
    let q = DetectionQuery(id: "1", image: "/data/images/train/000001.png", question: "Describe this image in detail.", sentences: cases.map(\.0))
    let labels = try d.detect([q])[0]
    for (label, (text, want)) in zip(labels, cases) {
        #expect(label.text == text)
        #expect(label.hallucinated == (want != nil), "\(text)")
        #expect(label.type == want, "\(text)")
        #expect(label.severity == (want?.severity ?? 0), "\(text)")
    }
    #expect(labels[4].severity == 2 && labels[6].severity == 1 && labels[8].severity == 3)
    #expect(labels[8].reason == "There is no sink in the image.")
    // An image the truth does not hold is an error naming it.
    #expect(throws: HalluError.self) { try d.detect([DetectionQuery(id: "9", image: "/elsewhere.png", question: "", sentences: ["A cup."])]) }
}

@Test func twoWordCategoryNamesAreJudgedAndCorrectedWhole() throws {
    // CHAIR does not merge "dining table"; its attributes and relations must still be checked.
    let scene = SceneFacts(objects: [SceneFacts.Object(category: "umbrella", colour: "blue", size: "small"),
                                     SceneFacts.Object(category: "dining table", colour: "yellow", size: "small")],
                           relations: [SceneFacts.Relation(subject: 0, relation: "left of", object: 1)])
    let d = GroundTruthDetector(truth: pipelineTruth(scene))
    let sentences = ["There is a yellow dining table to the right of the umbrella.", "There is a purple dining table to the right of the umbrella.",
                     "There is a large yellow dining table on the right.", "There is a blue umbrella to the right of the dining table."]
    let labels = try d.detect([DetectionQuery(id: "1", image: "/data/images/train/000001.png", question: "", sentences: sentences)])[0]
    #expect(labels.map(\.type) == [nil, .attribute, .attribute, .relation])
    let out = try CorrectingRewriter().rewrite(Array(labels[1...]), scene: scene)
    #expect(out.chosen == "There is a yellow dining table to the right of the umbrella. There is a yellow dining table on the right. "
            + "There is a blue umbrella to the left of the dining table.")
    #expect(out.corrected == 3)
}

@Test func rewriteRemoveDropsFlaggedSentences() throws {
    let labels: [DetectionSentence] = [.correct("The image shows a kitchen."), .hallucination("There is a red truck at the top left.", .object),
                                       .correct("There is a white dog below the cup."), .hallucination("There is also a sink in the kitchen.", .object)]
    let out = try RemovingRewriter().rewrite(labels, scene: nil)
    #expect(out.chosen == "The image shows a kitchen. There is a white dog below the cup.")
    #expect(out.removed == 2 && out.corrected == 0)
    // Correction needs the ground truth.
    #expect(throws: HalluError.self) { try CorrectingRewriter().rewrite(labels, scene: nil) }
}

@Test func rewriteCorrectFixesObjectsColoursSizesAndRelations() throws {
    let scene = pipelineKitchen()
    let d = GroundTruthDetector(truth: pipelineTruth(scene))
    let response = ["The image shows a kitchen.",
                    "There is a red truck at the top left.",                        // the cup, misnamed
                    "There is a large blue bowl to the left of the truck.",         // refers to it; relation also wrong
                    "There is a large green dog to the left of the bowl.",          // colour and size wrong
                    "There is also a sink in the kitchen."]                         // nothing left to rename it to
    let labels = try d.detect([DetectionQuery(id: "1", image: "/data/images/train/000001.png", question: "", sentences: response)])[0]
    #expect(labels.map(\.type) == [nil, .object, .object, .attribute, .object])
    let out = try CorrectingRewriter().rewrite(labels, scene: scene)
    #expect(out.chosen == "The image shows a kitchen. There is a red cup at the top left. There is a large blue bowl to the right of the cup. "
            + "There is a white dog to the left of the bowl.")
    #expect(out.corrected == 3 && out.removed == 1 && out.keptAsFaithful == 0)
    // Every kept sentence is faithful.
    let check = try d.detect([DetectionQuery(id: "1", image: "/data/images/train/000001.png", question: "", sentences: DescriptionSentences.split(out.chosen))])[0]
    #expect(check.allSatisfy { !$0.hallucinated })

    // Articles follow the new word; a flagged sentence the truth finds faithful is kept as it is.
    let park = SceneFacts(objects: [SceneFacts.Object(category: "bench", colour: "green", size: "small"),
                                    SceneFacts.Object(category: "umbrella", colour: "yellow", size: "small")],
                          relations: [SceneFacts.Relation(subject: 0, relation: "left of", object: 1)])
    let parkLabels: [DetectionSentence] = [.correct("There is a green bench at the top left."),
                                           .hallucination("There is also a kite in the park.", .object),
                                           .hallucination("There is a green bench at the top left.", .attribute)]
    let parkOut = try CorrectingRewriter().rewrite(parkLabels, scene: park)
    #expect(parkOut.chosen == "There is a green bench at the top left. There is also an umbrella in the park. There is a green bench at the top left.")
    #expect(parkOut.corrected == 1 && parkOut.keptAsFaithful == 1)
}

@Test func severityScoreMapping() {
    let sum = SeverityScore.sum
    #expect(sum.score([3]) == 1 && sum.score([2]) == 0.6667 && sum.score([1]) == 0.3333)
    #expect(sum.score([1, 1]) == 0.6667 && sum.score([2, 3]) == 1 && sum.score([1, 1, 1, 1]) == 1 && sum.score([]) == 0)
    // The same as the world's own mapping.
    for s in [[1], [2], [3], [1, 2], [1, 1], [2, 2]] { #expect(sum.score(s) == HallucinatedDescription.score(severities: s)) }
    #expect(SeverityScore.max.score([1, 2]) == 0.6667 && SeverityScore.max.score([1, 1, 1]) == 0.3333 && SeverityScore.max.score([3, 1]) == 1)
    #expect(SeverityScore.none.score([3]) == nil)
}

@Test func detectorMetricsMath() throws {
    let c = DetectionSentence.correct("x")
    func h(_ t: HallucinationType) -> DetectionSentence { .hallucination("x", t) }
    let reference: [[DetectionSentence]] = [[c, h(.object), h(.attribute), c], [h(.relation), c]]
    let predicted: [[DetectionSentence]] = [[c, h(.object), c, h(.object)], [h(.attribute), c]]
    let m = try DetectorMetrics.compute(reference: reference, predicted: predicted)
    #expect(m.responses == 2 && m.sentences == 6 && m.referenceHallucinated == 3 && m.predictedHallucinated == 3 && m.truePositives == 2)
    #expect(abs(m.precision - 2.0 / 3) < 1e-12 && abs(m.recall - 2.0 / 3) < 1e-12 && abs(m.f1 - 2.0 / 3) < 1e-12)
    #expect(abs(m.accuracy - 4.0 / 6) < 1e-12)
    #expect(m.typeAccuracy == 0.5 && m.severityAccuracy == 0.5)
    #expect(m.recallByType == ["object": 1, "attribute": 0, "relation": 1])
    let flat = m.flattened(prefix: "detector/heldout")
    #expect(flat["detector/heldout/f1"] == m.f1 && flat["detector/heldout/recall_attribute"] == 0)
    // Precision 1, recall 1/3: F1 = 2 * 1 * (1/3) / (4/3) = 0.5.
    let one = try DetectorMetrics.compute(reference: reference, predicted: [[c, h(.object), c, c], [c, c]])
    #expect(one.precision == 1 && abs(one.recall - 1.0 / 3) < 1e-12 && abs(one.f1 - 0.5) < 1e-12)
    // Nothing predicted: precision and F1 are 0, not NaN.
    let none = try DetectorMetrics.compute(reference: reference, predicted: reference.map { $0.map { _ in c } })
    #expect(none.precision == 0 && none.recall == 0 && none.f1 == 0 && none.typeAccuracy == 0)
    #expect(throws: HalluError.self) { try DetectorMetrics.compute(reference: reference, predicted: [[c]]) }
    #expect(throws: HalluError.self) { try DetectorMetrics.compute(reference: [[c, c]], predicted: [[c]]) }
}

@Test func detectionFormatRoundTripAndLenientParsing() {
    let labels: [DetectionSentence] = [.correct(""), .hallucination("", .object), .hallucination("", .attribute),
                                       .hallucination("", .relation), .hallucination("", .object, severity: 1)]
    let text = DetectionFormat.render(labels)
    #expect(text == "1. correct\n2. hallucination: object: 3\n3. hallucination: attribute: 2\n4. hallucination: relation: 1\n5. hallucination: object: 1")
    #expect(DetectionFormat.parse(text, count: 5).map { $0! } == labels)
    // With reasons.
    let reasoned = [DetectionSentence.hallucination("", .attribute, reason: "the cup is red: not blue")]
    let r = DetectionFormat.render(reasoned, reasons: true)
    #expect(r == "1. hallucination: attribute: 2: the cup is red: not blue")
    #expect(DetectionFormat.parse(r, count: 1)[0] == reasoned[0])
    // How chat models answer.
    let chat = """
    Judgement:
    **2)** Hallucination - Relation (severity: minor), the dog is below.
    - 1: Correct
    3. cannot judge
    4. HALLUCINATION: Attribute: major
    4. correct
    7. hallucination: object: 3
    5. hallucinated
    """
    let p = DetectionFormat.parse(chat, count: 5)
    #expect(p[0] == .correct(""))
    #expect(p[1]?.type == .relation && p[1]?.severity == 1)
    #expect(p[2] == nil)
    #expect(p[3]?.type == .attribute && p[3]?.severity == 3)   // the first verdict for a number wins
    #expect(p[4]?.type == .object && p[4]?.severity == 3)     // no type: object, its severity
    #expect(DetectionFormat.parse("", count: 2) == [nil, nil])
    #expect(DetectionFormat.verdict("hallucination: relation: 1") == .hallucination("", .relation))
    #expect(DetectionFormat.verdict("The sentence is fine") == nil)
}

@Test func pipelineOptionsParseAndRejectBadValues() throws {
    let defaults = Dictionary(uniqueKeysWithValues: HSAPipelineSettings.options().map { ($0.name, $0.defaultValue) })
    let s = try HSAPipelineSettings(defaults, method: "hsadpo")
    #expect(s == HSAPipelineSettings())
    #expect(!s.enabled && s.images == 2000 && s.detector == "ground-truth" && s.rewrite == "remove" && s.score == .sum)
    var v = defaults
    v["pipeline"] = "true"; v["detector"] = "model"; v["rewrite"] = "correct"; v["score"] = "max"; v["detector_granularity"] = "sentence"
    let t = try HSAPipelineSettings(v, method: "hsadpo")
    #expect(t.enabled && t.detector == "model" && t.rewrite == "correct" && t.score == .max && t.granularity == .sentence)
    #expect(settingsNotRefused([("detector", "oracle"), ("rewrite", "fix"), ("score", "mean"), ("pipeline_images", "0"),
                                ("pipeline_temperature", "-1"), ("detector_heldout", "-2"), ("detector_lr", "0")],
                               over: defaults, method: "hsadpo") { _ = try HSAPipelineSettings($0, method: "hsadpo") } == [])
    var chat = defaults
    chat["pipeline"] = "true"; chat["detector"] = "chat"
    #expect(throws: HalluError.self) { try HSAPipelineSettings(chat, method: "hsadpo") }
}

@Test func chatDetectorAsksForTypesAndSeverities() throws {
    let server = try StubHTTPServer { request in
        let body = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any]
        let content = ((body?["messages"] as? [[String: Any]])?.first?["content"] as? String) ?? ""
        // The facts come from the ground truth; answer sentence 2 as an attribute hallucination.
        guard content.contains("There is a small red cup.") && content.contains("2. There is a green cup") else { return (200, StubHTTPServer.chatReply("no idea")) }
        return (200, StubHTTPServer.chatReply("Here you go:\n1. correct\n2. hallucination: attribute: 2: the cup is red"))
    }
    defer { server.stop() }
    let config = ChatJudgeConfig(url: server.url, model: "det-model", timeout: 10, retries: 1, backoff: 0.01)
    let d = try ChatDetector(config: config, truth: pipelineTruth(pipelineKitchen()))
    #expect(d.name == "chat:det-model")
    let q = DetectionQuery(id: "1", image: "/data/images/train/000001.png", question: "", sentences: ["There is a red cup at the top left.", "There is a green cup here.", "A third."])
    let labels = try d.detect([q])[0]
    #expect(labels[0] == .correct("There is a red cup at the top left."))
    #expect(labels[1] == .hallucination("There is a green cup here.", .attribute, reason: "the cup is red"))
    #expect(labels[2] == .correct("A third.") && d.unjudged == 1)
    // A reply without any verdict is retried, then its sentences count as unjudged.
    let q2 = DetectionQuery(id: "2", image: "/elsewhere.png", question: "", sentences: ["A cup."])
    _ = try d.detect([q2])
    #expect(d.unjudged == 1)
    #expect(server.requests.count == 3)
}
