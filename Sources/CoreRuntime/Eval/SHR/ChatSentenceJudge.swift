import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Settings of a judge behind an OpenAI-compatible chat endpoint.
public struct ChatJudgeConfig: Sendable {
    /// Server root ("http://127.0.0.1:8000"), its "/v1", or the full ".../chat/completions" URL.
    public var url: URL
    public var model: String
    /// NAME of the environment variable that holds the API key (the key itself is never stored in the
    /// config, logged or put into an error message). nil sends no Authorization header.
    public var apiKeyVariable: String?
    /// Seconds per request.
    public var timeout: TimeInterval
    /// Extra attempts after a failed request (transport error, HTTP 429 or 5xx, or a reply without
    /// "Judgement:").
    public var retries: Int
    /// First wait between attempts; doubled after every failure.
    public var backoff: TimeInterval
    public var temperature: Double
    public var maxTokens: Int
    public var promptTemplate: String

    public init(url: URL, model: String, apiKeyVariable: String? = nil, timeout: TimeInterval = 120,
                retries: Int = 3, backoff: TimeInterval = 2, temperature: Double = 0.7, maxTokens: Int = 800,
                promptTemplate: String = ChatJudgePrompt.defaultTemplate) {
        self.url = url
        self.model = model
        self.apiKeyVariable = apiKeyVariable
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.promptTemplate = promptTemplate
    }

    /// The chat-completions endpoint derived from `url`.
    public var endpoint: URL {
        let path = url.path
        if path.hasSuffix("/chat/completions") { return url }
        if path.hasSuffix("/v1") || path.hasSuffix("/v1/") { return url.appendingPathComponent("chat/completions") }
        return url.appendingPathComponent("v1/chat/completions")
    }
}

/// A sentence judge that asks a chat model (GPT-4 in Zhao et al.'s (2023) SHR) through POST /v1/chat/completions.
public final class ChatSentenceJudge: SentenceJudge {
    public let config: ChatJudgeConfig
    private let apiKey: String?
    private let session: URLSession
    /// The raw reply of the last request, for reports and debugging.
    public private(set) var lastReply: String?

    public var name: String { "chat:\(config.model)" }

    /// Reads the API key from the configured environment variable; a missing variable is an error that
    /// names the variable.
    public init(config: ChatJudgeConfig, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.config = config
        if let variable = config.apiKeyVariable {
            guard let key = environment[variable], !key.isEmpty else {
                throw HalluError("judge API key: environment variable \(variable) is not set")
            }
            apiKey = key
        } else {
            apiKey = nil
        }
        let sessionConfig = URLSessionConfiguration.ephemeral
        sessionConfig.timeoutIntervalForRequest = config.timeout
        sessionConfig.timeoutIntervalForResource = config.timeout
        session = URLSession(configuration: sessionConfig)
    }

    deinit { session.invalidateAndCancel() }

    public func judge(sentences: [String], image: SHRImage) throws -> [SentenceJudgement?] {
        guard !sentences.isEmpty else { return [] }
        let facts = image.facts + (image.scene?.factLines() ?? [])
        let prompt = ChatJudgePrompt.render(template: config.promptTemplate, regions: image.regions,
                                            facts: facts, sentences: sentences)
        var wait = config.backoff
        var lastProblem = ""
        for attempt in 0...max(config.retries, 0) {
            if attempt > 0 {
                Thread.sleep(forTimeInterval: wait)
                wait *= 2
            }
            switch send(prompt) {
            case .reply(let text):
                lastReply = text
                if text.contains("Judgement") { return ChatJudgePrompt.parse(reply: text, sentenceCount: sentences.count) }
                lastProblem = "reply without a \"Judgement:\" section"
            case .retryable(let problem):
                lastProblem = problem
            case .fatal(let problem):
                throw HalluError("judge \(config.endpoint.absoluteString): \(problem)")
            }
        }
        if lastProblem == "reply without a \"Judgement:\" section" {
            return [SentenceJudgement?](repeating: nil, count: sentences.count)
        }
        throw HalluError("judge \(config.endpoint.absoluteString): \(lastProblem) "
            + "(gave up after \(max(config.retries, 0) + 1) attempts)")
    }

    /// Carries the completion handler's result to the waiting caller; the semaphore orders the accesses.
    private final class ResponseBox: @unchecked Sendable {
        var value: (Data?, URLResponse?, Error?) = (nil, nil, nil)
    }

    /// What one request came back with.
    public enum Outcome {
        case reply(String)
        case retryable(String)
        case fatal(String)
    }

    /// Sends one prompt (no retries): the reply, or why not and whether trying again may help.
    public func send(_ prompt: String) -> Outcome {
        var request = URLRequest(url: config.endpoint, timeoutInterval: config.timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        let body: [String: Any] = [
            "model": config.model,
            "messages": [["role": "user", "content": prompt]],
            "temperature": config.temperature,
            "max_tokens": config.maxTokens,
        ]
        do { request.httpBody = try JSONSerialization.data(withJSONObject: body) } catch {
            return .fatal("could not encode the request")
        }
        let done = DispatchSemaphore(value: 0)
        let box = ResponseBox()
        let task = session.dataTask(with: request) { data, response, error in
            box.value = (data, response, error)
            done.signal()
        }
        task.resume()
        done.wait()
        let result = box.value
        if let error = result.2 {
            return .retryable("could not reach the endpoint: \(error.localizedDescription)")
        }
        guard let http = result.1 as? HTTPURLResponse else { return .retryable("no HTTP response") }
        let data = result.0 ?? Data()
        guard (200..<300).contains(http.statusCode) else {
            let problem = "HTTP \(http.statusCode)"
            if http.statusCode == 429 || http.statusCode >= 500 { return .retryable(problem) }
            return .fatal(problem + (http.statusCode == 401 ? " (check the API key variable)" : ""))
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let choices = json["choices"] as? [[String: Any]], let first = choices.first,
              let message = first["message"] as? [String: Any], let content = message["content"] as? String else {
            return .retryable("reply is not a chat completion (no choices[0].message.content)")
        }
        return .reply(content)
    }
}
