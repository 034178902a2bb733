import Foundation

/// How the generator chooses tokens.
public enum DecodingMode: Equatable, CustomStringConvertible {
    case greedy
    /// Temperature / top-k / top-p sampling with a seeded generator.
    case sampling
    /// Beam search with this many beams per sample.
    case beam(Int)

    public var description: String {
        switch self {
        case .greedy: return "greedy decoding"
        case .sampling: return "sampling"
        case .beam(let k): return "beam search (\(k) beams)"
        }
    }
}

/// A decoding-time method: it sees every step of generation and may rewrite the next-token logits
/// of every live row, using extra forward passes (another image, another prompt) batched with the
/// main pass, the hidden states of earlier layers, attention probabilities, speculative passes of
/// candidate tokens, and (in beam search) a rollback to an earlier state.
///
/// The generator calls `begin` once per batch, then `adjust` at every step of every mode. In beam
/// search the rewritten logits go through log-softmax before they are added to the beam scores; in
/// greedy decoding the argmax is taken; in sampling temperature, top-k and top-p apply after the hook.
/// Several hooks compose in order: each sees the logits the previous one wrote.
public protocol DecodingHook: AnyObject {
    /// A short name for messages.
    var name: String { get }
    /// Checks the mode (throw with the reason when the method is not defined for it), resets any
    /// per-batch state and says what the hook reads.
    func begin(_ context: DecodingContext) throws -> DecodingNeeds
    /// Rewrites `step.logits` in place.
    func adjust(_ step: DecodingStep) throws
}

/// An extra sequence decoded next to each sample, fed the same generated tokens: e.g. the same
/// prompt with a noised image, or without the image. Its rows run in the same batched
/// forward pass as the main ones, each with its own part of the key/value cache.
public struct DecodingStream {
    public var name: String
    /// The stream's inputs, made from the main inputs (same number of samples, in order).
    public var inputs: (LlavaInputs) throws -> LlavaInputs
    public init(name: String, inputs: @escaping (LlavaInputs) throws -> LlavaInputs) {
        self.name = name; self.inputs = inputs
    }
}

/// What a hook reads during a batch.
public struct DecodingNeeds {
    /// Extra streams (`DecodingStep.streamLogits(i)` in this order).
    public var streams: [DecodingStream]
    /// Blocks whose input hidden state at the newest position is read (`DecodingStep.hidden(layer:)`);
    /// index i is transformers' `hidden_states[i]`: 0 the embeddings, i the output of i blocks.
    public var hiddenLayers: [Int]
    /// Blocks whose attention probabilities for the newest queries are read (`DecodingStep.attention`).
    public var attentionLayers: [Int]
    /// Whether the hook may call `DecodingStep.requestRollback` (beam search keeps its history then).
    public var rollback: Bool

    public init(streams: [DecodingStream] = [], hiddenLayers: [Int] = [], attentionLayers: [Int] = [], rollback: Bool = false) {
        self.streams = streams; self.hiddenLayers = hiddenLayers; self.attentionLayers = attentionLayers; self.rollback = rollback
    }
}

/// The batch a hook is about to see.
public struct DecodingContext {
    public let model: LlavaModel
    public let config: GenerationConfig
    public let mode: DecodingMode
    /// The main inputs (one prompt per sample, image placeholder not expanded).
    public let inputs: LlavaInputs
    /// Per sample: the spliced prompt's length (image placeholder expanded to the image's rows) and
    /// where the image rows sit in it (nil without an image).
    public let promptLengths: [Int]
    public let imageSpans: [Range<Int>?]
    public var samples: Int { inputs.ids.count }
}

/// Attention probabilities of one row at one block: `heads x queries x keys`, row-major. Keys are
/// the row's real positions in order (prompt with the image rows spliced in, then generated
/// tokens); queries are the positions computed by this step (the whole prompt at the first step,
/// one position afterwards).
public struct AttentionReadout {
    public var heads: Int
    public var queries: Int
    public var keys: Int
    public var probs: [Float]
    public init(heads: Int, queries: Int, keys: Int, probs: [Float]) {
        self.heads = heads; self.queries = queries; self.keys = keys; self.probs = probs
    }
    /// p(head h, query q -> key k).
    public subscript(h: Int, q: Int, k: Int) -> Float { probs[(h * queries + q) * keys + k] }
}

/// What a speculative pass of candidate tokens gives: for row r and candidate j (flat index
/// `r * candidates + j`), the logits of the position after the candidate and the requested attention
/// probabilities of the candidate as query. The cache is not changed; if the generator then appends
/// speculated candidates to every continuing row, it reuses these passes instead of running the step.
public struct Speculation {
    public let candidates: Int
    /// `[rows * candidates, V]`.
    public let logits: Tensor
    let passes: [SpeculativePass]
    /// Physical rows (main stream) of the step's rows.
    let physical: [Int]

    init(passes: [SpeculativePass], physical: [Int]) throws {
        self.passes = passes; self.physical = physical
        candidates = passes.count
        let all = try Tensor.concat(passes.map(\.output.logits), axis: 0)
        let per = passes[0].output.logits.shape[0]
        logits = try all.indexSelect(physical.flatMap { r in (0..<passes.count).map { $0 * per + r } })
    }

    /// The candidate's attention at `layer`: one query over the row's keys plus itself.
    public func attention(layer: Int, row: Int, candidate: Int) throws -> AttentionReadout {
        guard row >= 0, row < physical.count, candidate >= 0, candidate < candidates else {
            throw HalluError("speculation: no candidate \(candidate) of row \(row) (\(physical.count) rows, \(candidates) candidates)")
        }
        return try passes[candidate].output.attentionReadout(layer: layer, row: physical[row])
    }

    /// The candidate index of `token` on row `row`, if it was speculated.
    func candidate(row: Int, token: Int) -> Int? { passes.firstIndex { $0.tokens[physical[row]] == token } }
}
