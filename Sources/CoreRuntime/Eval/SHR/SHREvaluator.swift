import Foundation

/// The judged sentences of one image.
public struct SHRImageResult: Codable, Equatable, Sendable {
    public var imageId: String
    public var sentences: [String]
    /// One per sentence; nil where the judge gave no usable verdict.
    public var judgements: [SentenceJudgement?]

    enum CodingKeys: String, CodingKey { case imageId = "image_id", sentences, judgements }
}

/// SHR (sentence-level hallucination ratio) and the statistics Zhao et al. (2023) report with it. Encodes to the
/// CLI contract `{"shr", "sentences", "hallucinated", ...}`; per-image detail is in `images`, which is
/// not part of the encoding.
public struct SHRReport: Codable, Equatable, Sendable {
    /// Hallucinated sentences / judged sentences, over all images (a micro average).
    public var shr: Double
    /// Sentences with a verdict (hallucination, correct or cannot judge).
    public var sentences: Int
    public var hallucinated: Int
    /// Words of hallucinated sentences / words of judged sentences.
    public var hallucinatedWordsRatio: Double
    /// Number of images.
    public var n: Int
    /// Sentences the judge gave no usable verdict for (left out of `shr`).
    public var unjudged: Int
    /// All sentences (judged or not) and their words, per image.
    public var sentencesPerImage: Double
    public var wordsPerImage: Double
    public var hallucinatedSentencesPerImage: Double
    public var hallucinatedWordsPerImage: Double
    /// Unique / all n-grams of each response, averaged over images (keys "1"..."4"); an image with
    /// fewer than n words is left out of that average.
    public var ngramRepetition: [String: Double]
    public var judge: String
    /// Words and sentences per response, counted as for CHAIR (whitespace words, Punkt sentences), so
    /// the two evaluators' lengths compare; SHR grows with length.
    public var length: ResponseLength?
    public var images: [SHRImageResult] = []

    enum CodingKeys: String, CodingKey {
        case shr, sentences, hallucinated, hallucinatedWordsRatio = "hal_words_ratio", n, unjudged
        case sentencesPerImage = "sentences_per_image", wordsPerImage = "words_per_image"
        case hallucinatedSentencesPerImage = "hal_sentences_per_image", hallucinatedWordsPerImage = "hal_words_per_image"
        case ngramRepetition = "ngram_repetition", judge, length
    }
}

/// Splits each response into sentences, asks a judge about them and aggregates SHR.
public final class SHREvaluator {
    public let judge: SentenceJudge

    public init(judge: SentenceJudge) { self.judge = judge }

    /// Judges every image's response. Judge failures (e.g. an unreachable endpoint) are thrown.
    public func evaluate(images: [SHRImage]) throws -> SHRReport {
        var results: [SHRImageResult] = []
        for image in images {
            let sentences = SHRText.sentences(image.response)
            let verdicts = try judge.judge(sentences: sentences, image: image)
            guard verdicts.count == sentences.count else {
                throw HalluError("judge \(judge.name) returned \(verdicts.count) verdicts for \(sentences.count) sentences of image \(image.id)")
            }
            results.append(SHRImageResult(imageId: image.id, sentences: sentences, judgements: verdicts))
        }
        let report = SHREvaluator.report(results: results, responses: images.map(\.response), judge: judge.name)
        // A judge that never gave a usable verdict has scored nothing; an SHR of 0 would read as perfect.
        if report.sentences == 0 && report.unjudged > 0 {
            throw HalluError("judge \(judge.name) gave no usable verdict for any of the \(report.unjudged) sentences "
                + "(its replies were not in the expected format); check the judge model and its prompt")
        }
        return report
    }

    /// Aggregates judged images (`get_metric` and `cal_repetition` of Zhao et al.'s (2023) SHR code).
    public static func report(results: [SHRImageResult], responses: [String], judge: String) -> SHRReport {
        var allSentences = 0, allWords = 0, judged = 0, judgedWords = 0, hal = 0, halWords = 0, unjudged = 0
        for r in results {
            for (sentence, verdict) in zip(r.sentences, r.judgements) {
                let words = SHRText.wordCount(sentence)
                allSentences += 1
                allWords += words
                guard let verdict else { unjudged += 1; continue }
                judged += 1
                judgedWords += words
                if verdict == .hallucination { hal += 1; halWords += words }
            }
        }
        var repetition: [String: Double] = [:]
        for n in 1...4 {
            let values = responses.compactMap { SHRText.repetition($0, n: n) }
            repetition[String(n)] = values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
        }
        let images = Double(max(results.count, 1))
        func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
        var report = SHRReport(shr: ratio(hal, judged), sentences: judged, hallucinated: hal,
                               hallucinatedWordsRatio: ratio(halWords, judgedWords), n: results.count,
                               unjudged: unjudged, sentencesPerImage: Double(allSentences) / images,
                               wordsPerImage: Double(allWords) / images,
                               hallucinatedSentencesPerImage: Double(hal) / images,
                               hallucinatedWordsPerImage: Double(halWords) / images,
                               ngramRepetition: repetition, judge: judge)
        report.images = results
        report.length = ResponseLength.of(responses)
        return report
    }
}
