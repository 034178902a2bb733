import Foundation

/// One of the 80 COCO object categories, with the CHAIR synonyms the scene world may use for it.
public struct ObjectCategory: Equatable, Sendable {
    /// The COCO name, which is also CHAIR's node word ("dining table", "tv").
    public let name: String
    /// Other words CHAIR maps to this category ("sofa" for couch), used when `synonym_share` > 0.
    public let synonyms: [String]
}

/// How a scene type's background looks.
public enum SceneTexture: String, Sendable, CaseIterable {
    case checker, hStripes, vStripes, tiles, speckle, diagonal, dots, antiDiagonal, bigChecker, mown, gradient, waves
}

/// A kind of place: its background and which objects it usually holds, most typical first.
public struct SceneType: Equatable, Sendable {
    public let name: String
    public let background: RGB
    public let texture: SceneTexture
    /// Typical categories (COCO names), most typical first. Only those in the world's category set
    /// are used, so the same catalogue serves 24, 48 or 80 categories.
    public let typical: [String]
}

/// The fixed catalogues the scene world draws from. Everything here is data: changing it changes
/// every world, so it is versioned with the code.
public enum WorldCatalog {
    /// The 80 COCO categories. The first 24 (the default set) are frequent COCO categories chosen so
    /// that each default scene type has 3 to 5 typical objects among them.
    public static let categories: [ObjectCategory] = [
        c("person", "man", "woman", "child"), c("car", "van", "taxi"), c("chair", "stool"),
        c("dining table", "table", "desk"), c("cup"), c("bottle"), c("bowl"), c("truck", "lorry"),
        c("bench"), c("book"), c("sink"), c("clock"), c("tv", "television", "monitor"),
        c("potted plant", "houseplant"), c("couch", "sofa"), c("dog", "puppy"), c("cat", "kitten"),
        c("traffic light", "stoplight"), c("umbrella"), c("bird", "duck", "pigeon"), c("boat", "ship", "sailboat"),
        c("laptop", "computer"), c("toilet"), c("bed"),
        // The rest, roughly by COCO frequency.
        c("handbag", "purse"), c("backpack"), c("cell phone", "phone"), c("knife"), c("sports ball", "ball"),
        c("bus"), c("bicycle", "bike"), c("motorcycle", "motorbike", "scooter"), c("tie"), c("skateboard"),
        c("surfboard"), c("tennis racket", "racket"), c("oven", "stove"), c("vase"), c("refrigerator", "fridge"),
        c("spoon"), c("fork"), c("wine glass"), c("horse", "pony"), c("sheep", "lamb"), c("cow", "calf"),
        c("elephant"), c("train", "locomotive"), c("airplane", "plane", "jet"), c("pizza"), c("cake", "cupcake"),
        c("donut", "doughnut"), c("sandwich", "burger"), c("banana"), c("apple"), c("orange"), c("broccoli"),
        c("carrot"), c("hot dog"), c("remote"), c("keyboard"), c("mouse"), c("microwave"), c("toaster"),
        c("suitcase", "luggage"), c("kite"), c("skis"), c("snowboard"), c("frisbee"), c("baseball bat"),
        c("baseball glove"), c("giraffe"), c("zebra"), c("bear"), c("teddy bear"), c("fire hydrant", "hydrant"),
        c("stop sign"), c("parking meter"), c("scissors"), c("hair drier", "hairdryer"), c("toothbrush"),
    ]

    private static func c(_ name: String, _ synonyms: String...) -> ObjectCategory {
        ObjectCategory(name: name, synonyms: synonyms)
    }

    /// Scene types; the first 8 are the default. Backgrounds are muted so the bright objects stand out.
    public static let sceneTypes: [SceneType] = [
        SceneType(name: "kitchen", background: RGB(150, 122, 92), texture: .checker,
                  typical: ["bowl", "cup", "bottle", "sink", "dining table", "oven", "refrigerator", "knife",
                            "microwave", "spoon", "fork", "toaster", "banana", "apple"]),
        SceneType(name: "street", background: RGB(104, 104, 110), texture: .hStripes,
                  typical: ["car", "truck", "traffic light", "person", "bus", "bicycle", "motorcycle",
                            "fire hydrant", "stop sign", "parking meter", "handbag"]),
        SceneType(name: "living room", background: RGB(124, 102, 82), texture: .vStripes,
                  typical: ["couch", "tv", "potted plant", "chair", "cat", "remote", "vase", "teddy bear"]),
        SceneType(name: "bathroom", background: RGB(88, 128, 134), texture: .tiles,
                  typical: ["toilet", "sink", "bottle", "toothbrush", "hair drier", "scissors", "vase"]),
        SceneType(name: "office", background: RGB(96, 104, 132), texture: .diagonal,
                  typical: ["laptop", "chair", "book", "clock", "cup", "keyboard", "mouse", "cell phone",
                            "scissors", "backpack"]),
        SceneType(name: "park", background: RGB(86, 124, 80), texture: .speckle,
                  typical: ["bench", "dog", "person", "bird", "bicycle", "kite", "frisbee", "sports ball",
                            "skateboard"]),
        SceneType(name: "beach", background: RGB(168, 152, 110), texture: .waves,
                  typical: ["umbrella", "boat", "person", "bird", "surfboard", "kite", "frisbee", "handbag"]),
        SceneType(name: "bedroom", background: RGB(128, 98, 118), texture: .dots,
                  typical: ["bed", "book", "clock", "cat", "teddy bear", "cell phone", "remote", "suitcase"]),
        SceneType(name: "farm", background: RGB(120, 114, 70), texture: .antiDiagonal,
                  typical: ["dog", "truck", "bird", "horse", "sheep", "cow"]),
        SceneType(name: "dining room", background: RGB(124, 86, 76), texture: .bigChecker,
                  typical: ["dining table", "chair", "cup", "wine glass", "pizza", "fork", "knife", "cake"]),
        SceneType(name: "sports field", background: RGB(72, 118, 92), texture: .mown,
                  typical: ["person", "bench", "sports ball", "baseball bat", "baseball glove", "tennis racket",
                            "frisbee"]),
        SceneType(name: "snowy slope", background: RGB(150, 156, 170), texture: .gradient,
                  typical: ["person", "skis", "snowboard", "backpack"]),
    ]

    /// Colour names the world can use, with their pixel values. "orange" is left out on purpose: it
    /// is a COCO category, and CHAIR would count the colour as a mention of the fruit.
    public static let colors: [(name: String, rgb: RGB)] = [
        ("red", RGB(230, 40, 40)), ("green", RGB(40, 200, 60)), ("blue", RGB(50, 90, 245)),
        ("yellow", RGB(245, 225, 40)), ("purple", RGB(175, 60, 225)), ("white", RGB(248, 248, 248)),
        ("pink", RGB(250, 130, 190)), ("cyan", RGB(40, 225, 225)), ("black", RGB(12, 12, 12)),
    ]

    /// The category with this COCO name.
    public static func category(named name: String) -> ObjectCategory? { categories.first { $0.name == name } }

    /// The scene type with this name.
    public static func sceneType(named name: String) -> SceneType? { sceneTypes.first { $0.name == name } }

    /// "a" or "an" before a word, by POPE's rule (first letter a, e, i, o or u).
    public static func article(_ word: String) -> String {
        guard let f = word.first else { return "a" }
        return "aeiou".contains(f) ? "an" : "a"
    }
}
