import CoreRuntime
import Foundation

/// The decoding methods' goldens (`scripts/gen_decoding_goldens.py`): the tiny model, the prompts and
/// pixels, and per case the options, the decoding settings and the reference ids.
public struct DecodingGolden {
    public struct Case {
        public let options: [String: String]
        public let config: GenerationConfig
        public let mode: String
        public let ids: [[Int]]
    }

    public let model: LlavaModel
    public let json: [String: Any]
    public let prompts: [[Int]]
    public let pixels: Tensor
    public let cases: [Case]

    public static var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/decoding")
    }

    public static func load(_ method: String) throws -> DecodingGolden {
        let model = try LlavaModel.load(fixtures.appendingPathComponent("model"))
        model.train(false)
        let data = try Data(contentsOf: fixtures.appendingPathComponent("\(method).json"))
        let shared = try Data(contentsOf: fixtures.appendingPathComponent("inputs.json"))
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let common = try JSONSerialization.jsonObject(with: shared) as? [String: Any],
              let prompts = json["prompts"] as? [[Int]], let flat = common["pixels"] as? [Double],
              let shape = common["pixels_shape"] as? [Int], let raw = json["cases"] as? [[String: Any]] else {
            throw HalluError.file(method + ".json", "not a decoding golden")
        }
        let pixels = try Tensor(flat.map { Float($0) }, shape: shape)
        let cases = raw.map { c -> Case in
            let spec = c["config"] as! [String: Any]
            var cfg = GenerationConfig()
            cfg.maxNewTokens = spec["max_new_tokens"] as! Int
            cfg.eosTokenId = spec["eos"] as? Int
            cfg.numBeams = spec["num_beams"] as? Int ?? 1
            cfg.temperature = Float(spec["temperature"] as? Double ?? 0)
            cfg.topP = Float(spec["top_p"] as? Double ?? 1)
            cfg.topK = spec["top_k"] as? Int ?? 0
            cfg.seed = UInt64(spec["seed"] as? Int ?? 0)
            if let lp = spec["length_penalty"] as? Double { cfg.lengthPenalty = Float(lp) }
            return Case(options: c["options"] as? [String: String] ?? [:], config: cfg, mode: spec["mode"] as! String,
                        ids: c["ids"] as! [[Int]])
        }
        return DecodingGolden(model: model, json: json, prompts: prompts, pixels: pixels, cases: cases)
    }

    /// Both prompts in one batch, as the reference decoded them one at a time.
    public var inputs: LlavaInputs { LlavaInputs(ids: prompts, pixels: pixels) }

    /// The ids a generator gives for a case: both prompts in one batch for greedy and beam search;
    /// one prompt at a time for sampling, whose generator draws for the rows of a batch in turn
    /// while the reference draws for each prompt from its own seeded generator.
    public func generate(_ gen: Generator, _ c: Case) throws -> (ids: [[Int]], stats: GenerationStats) {
        guard c.mode == "sampling" else { return try gen.generateWithStats(inputs, c.config) }
        var ids: [[Int]] = [], stats = GenerationStats()
        for s in prompts.indices {
            let one = try gen.generateWithStats(LlavaInputs(ids: [prompts[s]], pixels: try pixels.slice(axis: 0, s..<(s + 1))), c.config)
            ids += one.ids
            stats += one.stats
        }
        return (ids, stats)
    }

    /// Forward passes greedy decoding and sampling spend on `ids` with `streams` streams: each row's
    /// prompt once and one step per token after the first (the last token, EOS or the length
    /// limit's, is never fed back).
    public static func passes(_ ids: [[Int]], _ cfg: GenerationConfig, streams: Int) -> Int {
        streams * ids.reduce(0) { $0 + $1.count }
    }

    /// The message of the error `body` throws ("no error" when it does not).
    public static func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch let e as HalluError { return e.message } catch { return "\(error)" }
    }
}
