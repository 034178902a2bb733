import CoreRuntime
import Foundation

/// The `mentions` evaluator: how many distinct objects a description names, and how many of them
/// the image does not show, per description. A quick count by whole-word match of the COCO names
/// and their synonyms (singular forms only); CHAIR is the exact measure. It shares the descriptions
/// the other evaluators generate, so it costs no extra generation.
///
/// Report (metrics.json["mentions"]): `absent` and `named` per description, `descriptions`.
public final class MentionsEvaluator: Evaluator {
    public init() {}
    public var name: String { "mentions" }
    public var summary: String { "distinct objects named per description, and how many of them are absent from the image" }
    public var requiredFiles: [String] { [SceneWorld.Files.chairPrompts, SceneWorld.Files.chairGT] }

    public func evaluate(_ context: EvaluationContext) throws -> OrderedJSON {
        let truth = try CHAIRGroundTruth.load(path: context.file(SceneWorld.Files.chairGT))
        let prompts = try context.descriptionPrompts()
        let descriptions = try context.descriptions()
        return try Self.report(zip(prompts, descriptions).map { prompt, text in
            guard let shown = truth.objects[prompt.id] else {
                throw HalluError.file(context.file(SceneWorld.Files.chairGT), "no objects for image \(prompt.id)")
            }
            return (text, shown)
        })
    }

    /// The report of descriptions, each with the objects its image shows.
    public static func report(_ described: [(text: String, shown: Set<String>)]) throws -> OrderedJSON {
        var named = 0, absent = 0
        for (text, shown) in described {
            let objects = objectsNamed(in: text)
            named += objects.count
            absent += objects.subtracting(shown).count
        }
        let n = Double(max(described.count, 1))
        return .obj(["absent": .rounded(Double(absent) / n), "named": .rounded(Double(named) / n), "descriptions": .int(described.count)])
    }

    /// The COCO categories a text names, by their names and synonyms as whole words.
    public static func objectsNamed(in text: String) -> Set<String> {
        let words = text.lowercased().split { !$0.isLetter }.joined(separator: " ")
        let padded = " \(words) "
        return Set(WorldCatalog.categories.filter { c in ([c.name] + c.synonyms).contains { padded.contains(" \($0) ") } }.map(\.name))
    }

    /// Table rows: absent objects per description (lower is better), objects named per description;
    /// the count of descriptions stays in the report only.
    public func headline(_ report: OrderedJSON) -> [MetricValue] {
        Evaluators.numbers(of: report, evaluator: name).compactMap { m in
            switch m.short {
            case "absent": return MetricValue(key: m.key, label: "absent objects named", title: "absent", value: m.value,
                                              lowerIsBetter: true, decimals: 2, group: name, short: "absent")
            case "named": return MetricValue(key: m.key, label: "objects named", title: "named", value: m.value,
                                             lowerIsBetter: nil, decimals: 2, group: name, short: "named")
            default: return nil
            }
        }
    }

    /// `hallu eval mentions --captions FILE --truth FILE`: descriptions with their `image_id` and
    /// `text` (a run's eval/chair_captions.jsonl) against CHAIR's ground truth (chair_gt_objects.json).
    public var command: EvaluatorCommand? {
        EvaluatorCommand(
            usage: "hallu eval mentions --captions FILE --truth FILE [--json]",
            flags: [EvaluatorCommand.Flag("captions", value: "FILE", help: "mentions: descriptions with image_id and text (JSON list or JSON Lines)"),
                    EvaluatorCommand.Flag("truth", value: "FILE", help: "mentions: the objects of each image (chair_gt_objects.json)")],
            run: { arguments in
                let captions = try arguments.required("captions"), truthFile = try arguments.required("truth")
                let truth = try CHAIRGroundTruth.load(path: truthFile)
                let described = try DataRecord.readAll(captions).map { r -> (text: String, shown: Set<String>) in
                    let id = try r.id("image_id")
                    guard let shown = truth.objects[id] else { throw r.fail("image_id \(id) is not in \(truthFile)") }
                    return (try r.string("text"), shown)
                }
                let report = try Self.report(described)
                return (report, self.text(report))
            })
    }
}
