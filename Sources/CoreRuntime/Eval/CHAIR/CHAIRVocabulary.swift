import Foundation

/// The CHAIR object vocabulary: the 80 COCO categories with their synonyms, and the "double word"
/// rules, built exactly the way chair.py builds them (so its quirks are kept: a synonym written after a
/// doubled space, such as " cheesecake", keeps its leading space and can never match a token, and the
/// capitalised "iPhone" never matches a lower-cased caption).
public struct CHAIRVocabulary: Sendable {
    /// Every surface form that counts as an object mention (chair.py's `mscoco_objects`).
    public let objectWords: Set<String>
    /// Surface form -> node word (the COCO category name).
    public let nodeWord: [String: String]
    /// Two-word phrase -> the single word it is treated as (chair.py's `double_word_dict`).
    public let doubleWords: [String: String]
    /// The 80 node words in table order.
    public let categories: [String]

    /// The vocabulary of chair.py.
    public static let standard = CHAIRVocabulary()

    private init() {
        var objects = Set<String>()
        var node: [String: String] = [:]
        var categories: [String] = []
        for rawLine in CHAIRVocabulary.synonymTable.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            // chair.py splits on ", " exactly; an empty line yields the empty string as an "object".
            let entries = line.components(separatedBy: ", ")
            objects.formUnion(entries)
            for entry in entries { node[entry] = entries[0] }
            if !entries[0].isEmpty { categories.append(entries[0]) }
        }
        var doubles: [String: String] = [:]
        for phrase in CHAIRVocabulary.coherentPhrases { doubles[phrase] = phrase }
        for animal in ["bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
                       "giraffe", "animal", "cub"] {
            doubles["baby \(animal)"] = animal
            doubles["adult \(animal)"] = animal
        }
        for vehicle in ["jet", "train"] { doubles["passenger \(vehicle)"] = vehicle }
        doubles["bow tie"] = "tie"
        doubles["toilet seat"] = "toilet"
        doubles["wine glas"] = "wine glass"
        self.objectWords = objects
        self.nodeWord = node
        self.doubleWords = doubles
        self.categories = categories
    }

    /// Multi-word COCO names that are merged into one token before lookup.
    static let coherentPhrases = [
        "motor bike", "motor cycle", "air plane", "traffic light", "street light", "traffic signal",
        "stop light", "fire hydrant", "stop sign", "parking meter", "suit case", "sports ball",
        "baseball bat", "baseball glove", "tennis racket", "wine glass", "hot dog", "cell phone",
        "mobile phone", "teddy bear", "hair drier", "potted plant", "bow tie", "laptop computer",
        "stove top oven", "home plate", "train track",
    ]

    /// One line per COCO category: the node word first, then its synonyms (the table of chair.py,
    /// which comes from the CHAIR paper's synonyms.txt). Spacing irregularities are data, not typos.
    static let synonymTable = """

person, girl, boy, man, woman, kid, child, chef, baker, people, adult, rider, children, baby, worker, passenger, sister, biker, policeman, cop, officer, lady, cowboy, bride, groom, male, female, guy, traveler, mother, father, gentleman, pitcher, player, skier, snowboarder, skater, skateboarder, person, woman, guy, foreigner, child, gentleman, caller, offender, coworker, trespasser, patient, politician, soldier, grandchild, serviceman, walker, drinker, doctor, bicyclist, thief, buyer, teenager, student, camper, driver, solider, hunter, shopper, villager
bicycle, bike, bicycle, bike, unicycle, minibike, trike
car, automobile, van, minivan, sedan, suv, hatchback, cab, jeep, coupe, taxicab, limo, taxi
motorcycle, scooter,  motor bike, motor cycle, motorbike, scooter, moped
airplane, jetliner, plane, air plane, monoplane, aircraft, jet, jetliner, airbus, biplane, seaplane
bus, minibus, trolley
train, locomotive, tramway, caboose
truck, pickup, lorry, hauler, firetruck
boat, ship, liner, sailboat, motorboat, dinghy, powerboat, speedboat, canoe, skiff, yacht, kayak, catamaran, pontoon, houseboat, vessel, rowboat, trawler, ferryboat, watercraft, tugboat, schooner, barge, ferry, sailboard, paddleboat, lifeboat, freighter, steamboat, riverboat, battleship, steamship
traffic light, street light, traffic signal, stop light, streetlight, stoplight
fire hydrant, hydrant
stop sign
parking meter
bench, pew
bird, ostrich, owl, seagull, goose, duck, parakeet, falcon, robin, pelican, waterfowl, heron, hummingbird, mallard, finch, pigeon, sparrow, seabird, osprey, blackbird, fowl, shorebird, woodpecker, egret, chickadee, quail, bluebird, kingfisher, buzzard, willet, gull, swan, bluejay, flamingo, cormorant, parrot, loon, gosling, waterbird, pheasant, rooster, sandpiper, crow, raven, turkey, oriole, cowbird, warbler, magpie, peacock, cockatiel, lorikeet, puffin, vulture, condor, macaw, peafowl, cockatoo, songbird
cat, kitten, feline, tabby
dog, puppy, beagle, pup, chihuahua, schnauzer, dachshund, rottweiler, canine, pitbull, collie, pug, terrier, poodle, labrador, doggie, doberman, mutt, doggy, spaniel, bulldog, sheepdog, weimaraner, corgi, cocker, greyhound, retriever, brindle, hound, whippet, husky
horse, colt, pony, racehorse, stallion, equine, mare, foal, palomino, mustang, clydesdale, bronc, bronco
sheep, lamb, ram, lamb, goat, ewe
cow, cattle, oxen, ox, calf, cattle, holstein, heifer, buffalo, bull, zebu, bison 
elephant
bear, panda
zebra
giraffe
backpack, knapsack
umbrella
handbag, wallet, purse, briefcase
tie, bow, bow tie
suitcase, suit case, luggage
frisbee
skis, ski
snowboard
sports ball, ball
kite
baseball bat
baseball glove
skateboard
surfboard, longboard, skimboard, shortboard, wakeboard
tennis racket, racket
bottle
wine glass
cup
fork
knife, pocketknife, knive
spoon
bowl, container
banana
apple
sandwich, burger, sub, cheeseburger, hamburger
orange
broccoli
carrot
hot dog
pizza
donut, doughnut, bagel
cake,  cheesecake, cupcake, shortcake, coffeecake, pancake
chair, seat, stool
couch, sofa, recliner, futon, loveseat, settee, chesterfield 
potted plant, houseplant
bed
dining table, table, desk
toilet, urinal, commode, toilet, lavatory, potty
tv, monitor, televison, television
laptop, computer, notebook, netbook, lenovo, macbook, laptop computer
mouse
remote
keyboard
cell phone, mobile phone, phone, cellphone, telephone, phon, smartphone, iPhone
microwave
oven, stovetop, stove, stove top oven
toaster
sink
refrigerator, fridge, fridge, freezer
book
clock
vase
scissors
teddy bear, teddybear
hair drier, hairdryer
toothbrush

"""
}
