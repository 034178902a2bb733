import Foundation

/// The ground truth of one scene-world image, as the ground-truth SHR judge receives it.
public struct SceneFacts: Codable, Equatable, Sendable {
    /// One drawn object.
    public struct Object: Codable, Equatable, Sendable {
        /// CHAIR node word (COCO category name), e.g. "dog", "dining table".
        public var category: String
        /// Colour name, e.g. "red".
        public var colour: String
        /// Size name: "small", "medium" or "large" (synonyms such as "big" are understood).
        public var size: String

        public init(category: String, colour: String, size: String) {
            self.category = category
            self.colour = colour
            self.size = size
        }
    }

    /// "objects[subject] <relation> objects[object]".
    public struct Relation: Codable, Equatable, Sendable {
        public var subject: Int
        /// "left of", "right of", "above", "below" or "next to" ("left_of", "to the left of" also work).
        public var relation: String
        public var object: Int

        public init(subject: Int, relation: String, object: Int) {
            self.subject = subject
            self.relation = relation
            self.object = object
        }
    }

    public var objects: [Object]
    public var relations: [Relation]

    public init(objects: [Object], relations: [Relation] = []) {
        self.objects = objects
        self.relations = relations
    }

    /// The spatial relations the judge checks.
    public static let spatialRelations = ["left of", "right of", "above", "below", "next to"]

    /// Lower-cased, underscores as spaces, leading "to the"/"on the" removed: "to_the_left_of" -> "left of".
    public static func normaliseRelation(_ r: String) -> String {
        var s = r.lowercased().replacingOccurrences(of: "_", with: " ")
            .split(separator: " ").joined(separator: " ")
        for prefix in ["to the ", "on the "] where s.hasPrefix(prefix) { s.removeFirst(prefix.count) }
        return s
    }

    /// Checks that categories are CHAIR node words and relation indices point at objects.
    public func validate(imageId: String, vocabulary: CHAIRVocabulary = .standard) throws {
        let known = Set(vocabulary.categories)
        for (i, o) in objects.enumerated() where !known.contains(o.category) {
            throw HalluError("scene facts of image \(imageId): objects[\(i)] has category \"\(o.category)\", "
                + "which is not a COCO/CHAIR category name")
        }
        for (i, r) in relations.enumerated() {
            guard objects.indices.contains(r.subject), objects.indices.contains(r.object) else {
                throw HalluError("scene facts of image \(imageId): relations[\(i)] refers to an object index "
                    + "outside 0..<\(objects.count)")
            }
        }
    }

    /// Plain sentences stating the facts ("There is a small red dog.", "The dog is left of the cat."),
    /// for judges that read text.
    public func factLines() -> [String] {
        var lines = objects.map { "There is a \($0.size) \($0.colour) \($0.category)." }
        for r in relations where objects.indices.contains(r.subject) && objects.indices.contains(r.object) {
            let relation = SceneFacts.normaliseRelation(r.relation)
            lines.append("The \(objects[r.subject].category) is \(relation) the \(objects[r.object].category).")
        }
        return lines
    }
}
