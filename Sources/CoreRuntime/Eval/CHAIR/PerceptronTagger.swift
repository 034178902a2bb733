/// NLTK's averaged perceptron part-of-speech tagger (`nltk.pos_tag`, NLTK 3.8), which chair.py runs
/// on every caption to choose each token's WordNet part of speech.
///
/// Greedy, left to right: a token in the tag dictionary (words seen at least 20 times with one tag
/// at least 97% of the time) gets that tag; any other token gets the class with the highest sum of the
/// weights of its 14 features, ties going to the class name that sorts last. The features read the
/// token, its neighbours normalised (lower case, "!HYPHEN", "!YEAR", "!DIGITS"), padded with -START-
/// and -END- markers, and the two tags already chosen before it.
public final class PerceptronTagger: Sendable {
    /// The tag set (45 Penn Treebank tags for the English model), in the model's order.
    public let classes: [String]
    /// Tags for unambiguous, frequent words, looked up on the token as written.
    let tagDictionary: [String: String]
    /// Feature -> its slice of `entryClass` / `entryWeight`.
    let featureRange: [String: Range<Int>]
    let entryClass: [Int]
    let entryWeight: [Double]
    /// For each class, its position when class names are sorted as Python sorts strings.
    let classRank: [Int]

    static let start = ["-START-", "-START2-"]
    static let end = ["-END-", "-END2-"]

    /// The English model NLTK ships (embedded in the library; see data/SOURCES.md).
    public static var english: PerceptronTagger { NLTKEnglish.tagger }

    /// Builds the tagger from the model's JSON form `{"classes", "tagdict", "weights"}`.
    init(json: OrderedJSON) throws {
        guard case .array(let classValues)? = json["classes"], case .object(let tagdict)? = json["tagdict"],
              case .object(let weights)? = json["weights"] else {
            throw HalluError("tagger model: expected \"classes\", \"tagdict\" and \"weights\"")
        }
        let classes = try classValues.map {
            guard case .string(let s) = $0 else { throw HalluError("tagger model: a class is not a string") }
            return s
        }
        self.classes = classes
        var index: [String: Int] = [:]
        for (i, c) in classes.enumerated() { index[c] = i }
        tagDictionary = try Dictionary(tagdict.map { word, tag in
            guard case .string(let t) = tag, index[t] != nil else { throw HalluError("tagger model: bad tag for \"\(word)\"") }
            return (word, t)
        }, uniquingKeysWith: { $1 })
        var ranges: [String: Range<Int>] = [:]
        ranges.reserveCapacity(weights.count)
        var cls: [Int] = [], wts: [Double] = []
        for (feature, value) in weights {
            guard case .object(let perClass) = value else { throw HalluError("tagger model: weights of \"\(feature)\" are not an object") }
            let first = cls.count
            for (tag, w) in perClass {
                guard let c = index[tag] else { throw HalluError("tagger model: unknown class \"\(tag)\"") }
                switch w {
                case .number(let d): wts.append(d)
                case .int(let i): wts.append(Double(i))
                default: throw HalluError("tagger model: weight of \"\(feature)\"/\"\(tag)\" is not a number")
                }
                cls.append(c)
            }
            ranges[feature] = first..<cls.count
        }
        featureRange = ranges
        entryClass = cls
        entryWeight = wts
        let order = classes.indices.sorted { PerceptronTagger.pythonLess(classes[$0], classes[$1]) }
        var rank = [Int](repeating: 0, count: classes.count)
        for (r, c) in order.enumerated() { rank[c] = r }
        classRank = rank
    }

    /// Python compares strings code point by code point.
    static func pythonLess(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
    }

    /// The tag of each token (`nltk.pos_tag(tokens)`).
    public func tag(_ tokens: [String]) -> [String] {
        let words = tokens.map { Array($0.unicodeScalars) }
        let context = PerceptronTagger.start + words.map(PerceptronTagger.normalize) + PerceptronTagger.end
        var prev = PerceptronTagger.start[0], prev2 = PerceptronTagger.start[1]
        var out: [String] = []
        out.reserveCapacity(tokens.count)
        var scores = [Double](repeating: 0, count: classes.count)
        for (i, token) in tokens.enumerated() {
            let tag: String
            if let known = tagDictionary[token] {
                tag = known
            } else {
                let features = PerceptronTagger.features(word: words[i], at: i + 2, context: context, prev: prev, prev2: prev2)
                tag = classes[predict(features, scores: &scores)]
            }
            out.append(tag)
            prev2 = prev
            prev = tag
        }
        return out
    }

    /// The class with the highest score (sums in feature order, as Python adds them), ties to the
    /// class name that sorts last. Classes no feature votes for score 0.
    func predict(_ features: [(String, Int)], scores: inout [Double]) -> Int {
        for k in scores.indices { scores[k] = 0 }
        for (feature, count) in features {
            guard let r = featureRange[feature] else { continue }
            for e in r { scores[entryClass[e]] += Double(count) * entryWeight[e] }
        }
        var best = 0
        for c in 1..<scores.count where scores[c] > scores[best] || (scores[c] == scores[best] && classRank[c] > classRank[best]) {
            best = c
        }
        return best
    }

    /// `PerceptronTagger.normalize`: hyphenated words, four-digit numbers and other words starting with
    /// a digit become markers; everything else is lower-cased.
    static func normalize(_ w: [Unicode.Scalar]) -> String {
        if w.contains("-") && w.first != "-" { return "!HYPHEN" }
        if w.count == 4 && w.allSatisfy(PythonText.isDigit) { return "!YEAR" }
        if let c = w.first, PythonText.isDigit(c) { return "!DIGITS" }
        return PythonText.string(PythonText.lower(w))
    }

    /// The feature names of token `word` at position `i` of `context` (which holds two start markers
    /// first), with their counts, in the order NLTK adds them.
    static func features(word: [Unicode.Scalar], at i: Int, context: [String], prev: String, prev2: String) -> [(String, Int)] {
        func suffix(_ s: String) -> String { PythonText.string(s.unicodeScalars.suffix(3)) }
        let names = [
            "bias",
            "i suffix " + PythonText.string(word.suffix(3)),
            "i pref1 " + PythonText.string(word.prefix(1)),
            "i-1 tag " + prev,
            "i-2 tag " + prev2,
            "i tag+i-2 tag " + prev + " " + prev2,
            "i word " + context[i],
            "i-1 tag+i word " + prev + " " + context[i],
            "i-1 word " + context[i - 1],
            "i-1 suffix " + suffix(context[i - 1]),
            "i-2 word " + context[i - 2],
            "i+1 word " + context[i + 1],
            "i+1 suffix " + suffix(context[i + 1]),
            "i+2 word " + context[i + 2],
        ]
        // A name given twice counts twice, at its first position (a Python dict of counts).
        var out: [(String, Int)] = []
        out.reserveCapacity(names.count)
        for n in names {
            if let k = out.firstIndex(where: { $0.0 == n }) { out[k].1 += 1 } else { out.append((n, 1)) }
        }
        return out
    }
}
