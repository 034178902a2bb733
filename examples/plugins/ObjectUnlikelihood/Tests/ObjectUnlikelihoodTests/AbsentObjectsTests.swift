import CoreRuntime
import Foundation
import ObjectUnlikelihood
import Testing

/// A data folder with one `absent_objects.jsonl` of the given lines, read through a catalog that
/// knows the plugin's kind and format.
private func load(_ lines: [String]) throws -> Dataset {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("absent-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent(AbsentObjects.file), atomically: true, encoding: .utf8)
    let catalog = DataCatalog()
    try catalog.register(AbsentObjects.kindSpec)
    try catalog.register(AbsentObjects.format)
    return try Dataset.load(dir.path, kinds: [AbsentObjects.kind], checkImages: false, catalog: catalog)
}

private let good = #"{"id": 7, "image": "a.png", "prompt": "Describe the image.", "description": "There is a red cup.", "absent": ["bowl", "sink"]}"#

@Test func absentObjectsLinesParse() throws {
    let samples: [AbsentObjectsSample] = try load([good]).data[AbsentObjects.kind]
    #expect(samples.count == 1)
    #expect(samples[0].id == "7" && samples[0].absent == ["bowl", "sink"] && samples[0].image.hasSuffix("/a.png"))
}

/// Bad lines are errors that name the file, the line and the key.
@Test func absentObjectsErrorsNameFileLineAndKey() throws {
    let cases = [
        (#"{"id": 1, "image": "a.png", "prompt": "p", "description": "d"}"#, #"missing required key "absent""#),
        (#"{"id": 1, "image": "a.png", "prompt": "p", "description": "d", "absent": []}"#, #""absent" is empty"#),
        (#"{"id": 1, "image": "a.png", "prompt": "p", "description": "d", "absent": ["unicorn"]}"#, #""unicorn" is not a COCO category"#),
        (#"{"id": 1, "image": "a.png", "prompt": 3, "description": "d", "absent": ["bowl"]}"#, #""prompt" must be a string"#),
    ]
    for (line, message) in cases {
        do {
            _ = try load([good, line])
            Issue.record("accepted: \(line)")
        } catch let e as HalluError {
            #expect(e.message.contains("\(AbsentObjects.file): line 2: ") && e.message.contains(message), "\(e.message)")
        }
    }
}
