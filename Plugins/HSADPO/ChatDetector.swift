import CoreRuntime
import Foundation

/// A detector behind an OpenAI-compatible chat endpoint (HSA-DPO labels its detector data with GPT-4),
/// through SHR's chat judge transport (same URL forms, key from an environment variable, retries with
/// back-off). The model gets the image's facts, when known, and the numbered sentences, and answers
/// in `DetectionFormat`; sentences it gives no verdict for count as faithful and are counted in
/// `unjudged`.
public final class ChatDetector: HallucinationDetector {
    public let client: ChatSentenceJudge
    /// Ground truth to state as facts (the scene world's objects and relations), when available.
    public let truth: SceneTruth?
    /// Extra fact lines per image path (e.g. region descriptions of real data).
    public var facts: [String: [String]] = [:]
    public var template: String
    /// Sentences without a verdict in the last `detect` call.
    public private(set) var unjudged = 0
    public var name: String { "chat:\(client.config.model)" }

    /// The default prompt; `{facts}` and `{sentences}` are replaced.
    public static let defaultTemplate = """
    You are checking a description of an image for hallucinations, sentence by sentence.

    Take the facts below as the truth about the image. A sentence is a hallucination if it names an object \
    that is not in the image (type object), gives an object a wrong colour, size or other property (type \
    attribute), or states a wrong spatial relation between objects (type relation). Rate each hallucination's \
    severity from 1 (minor) to 3 (major): a made-up object is usually 3, a wrong property 2, a wrong relation 1.

    Reply with one line per numbered sentence, in exactly this format:
    1. correct
    2. hallucination: <object|attribute|relation>: <severity 1-3>: <short reason>

    Facts:
    {facts}

    Sentences:
    {sentences}
    """

    public init(config: ChatJudgeConfig, truth: SceneTruth? = nil, template: String = ChatDetector.defaultTemplate,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        client = try ChatSentenceJudge(config: config, environment: environment)
        self.truth = truth
        self.template = template
    }

    /// The prompt for one response.
    public func prompt(_ q: DetectionQuery) -> String {
        let lines = (truth?.facts(image: q.image)?.factLines() ?? []) + (facts[q.image] ?? [])
        return template.replacingOccurrences(of: "{facts}", with: lines.isEmpty ? "(none)" : lines.joined(separator: "\n"))
            .replacingOccurrences(of: "{sentences}", with: SHRText.numbered(q.sentences).trimmingCharacters(in: .newlines))
    }

    public func detect(_ queries: [DetectionQuery]) throws -> [[DetectionSentence]] {
        unjudged = 0
        return try queries.map { q in
            guard !q.sentences.isEmpty else { return [] }
            let verdicts = try ask(prompt(q), count: q.sentences.count)
            return zip(q.sentences, verdicts).map { text, v in
                guard var v else { unjudged += 1; return .correct(text) }
                v.text = text
                return v
            }
        }
    }

    /// Sends a prompt, retrying transport failures and replies without a single verdict.
    func ask(_ prompt: String, count: Int) throws -> [DetectionSentence?] {
        let cfg = client.config
        var wait = cfg.backoff
        var lastProblem = ""
        var lastParsed = [DetectionSentence?](repeating: nil, count: count)
        for attempt in 0...max(cfg.retries, 0) {
            if attempt > 0 { Thread.sleep(forTimeInterval: wait); wait *= 2 }
            switch client.send(prompt) {
            case .reply(let text):
                lastParsed = DetectionFormat.parse(text, count: count)
                if lastParsed.contains(where: { $0 != nil }) { return lastParsed }
                lastProblem = "reply has no numbered verdicts"
            case .retryable(let problem):
                lastProblem = problem
            case .fatal(let problem):
                throw HalluError("chat detector \(cfg.endpoint.absoluteString): \(problem)")
            }
        }
        if lastProblem == "reply has no numbered verdicts" { return lastParsed }
        throw HalluError("chat detector \(cfg.endpoint.absoluteString): \(lastProblem) (gave up after \(max(cfg.retries, 0) + 1) attempts)")
    }
}
