import Foundation

/// One step of generation as a hook sees it: the next-token logits of every live row (a row is one
/// sample in greedy decoding and sampling, one beam of a sample in beam search) to rewrite in
/// place, and what the hook asked for in `DecodingNeeds`.
public final class DecodingStep {
    public let mode: DecodingMode
    /// `[rows, V]` logits of the main stream; hooks rewrite them in place.
    public let logits: Tensor
    /// True when these rows were just rebuilt after a rollback (beam search).
    public let isRetry: Bool
    let rowSample: [Int]
    let rowBeam: [Int]
    let rowParent: [Int?]
    let rowGenerated: [[Int]]
    let prompts: [[Int]]
    let output: DecodingSession.Output
    /// Physical rows of this step's rows in `output` (main stream; stream s adds `s * streamStride`).
    let physical: [Int]
    let streamStride: Int
    /// The calling hook's first stream (streams of earlier hooks come first).
    var streamBase = 0
    var allowRollback = false
    var speculator: (([[Int]]) throws -> Speculation)?
    var rollbacks: [(sample: Int, length: Int)] = []

    init(mode: DecodingMode, logits: Tensor, isRetry: Bool, rowSample: [Int], rowBeam: [Int], rowParent: [Int?],
         rowGenerated: [[Int]], prompts: [[Int]], output: DecodingSession.Output, physical: [Int], streamStride: Int) {
        self.mode = mode; self.logits = logits; self.isRetry = isRetry
        self.rowSample = rowSample; self.rowBeam = rowBeam; self.rowParent = rowParent; self.rowGenerated = rowGenerated
        self.prompts = prompts; self.output = output; self.physical = physical; self.streamStride = streamStride
    }

    public var rows: Int { logits.shape[0] }
    public var vocabSize: Int { logits.shape[1] }
    /// The sample (index in the batch) row `r` belongs to.
    public func sample(of r: Int) -> Int { rowSample[r] }
    /// The beam index of row `r` within its sample (0 outside beam search).
    public func beam(of r: Int) -> Int { rowBeam[r] }
    /// The row of the previous step that row `r` continues, or nil at the first step and for rebuilt rows.
    public func parent(of r: Int) -> Int? { rowParent[r] }
    /// Tokens generated so far on row `r`.
    public func generated(_ r: Int) -> [Int] { rowGenerated[r] }
    /// The prompt ids of a sample (image placeholder not expanded).
    public func promptIds(sample s: Int) -> [Int] { prompts[s] }
    /// Row `r`'s logits.
    public func row(_ r: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: logits.data + r * vocabSize, count: vocabSize)
    }

    /// `[rows, V]` logits of the calling hook's extra stream `i`, for the same rows.
    public func streamLogits(_ i: Int) throws -> Tensor {
        let s = 1 + streamBase + i
        guard s * streamStride < output.logits.shape[0] else {
            throw HalluError("decoding: stream \(i) was not requested in DecodingNeeds")
        }
        return try output.logits.indexSelect(physical.map { s * streamStride + $0 })
    }

    /// `[rows, D]` input hidden state of block `layer` at the newest position (before the final norm).
    public func hidden(layer: Int) throws -> Tensor {
        guard let h = output.hidden[layer] else { throw HalluError("decoding: hidden state of layer \(layer) was not requested in DecodingNeeds") }
        return try h.indexSelect(physical)
    }

    /// Attention probabilities of row `r` at block `layer` for this step's queries.
    public func attention(layer: Int, row r: Int) throws -> AttentionReadout {
        try output.attentionReadout(layer: layer, row: physical[r])
    }

    /// Runs every row once more with each of its candidate tokens appended (`candidates[r]`, the
    /// same count for every row), without changing the cache: one forward pass per candidate and
    /// row. Not available on a retried step (its rows were rebuilt apart from the batch).
    public func speculate(_ candidates: [[Int]]) throws -> Speculation {
        guard let speculator else { throw HalluError("decoding: speculative passes are not available on a retried step") }
        guard candidates.count == rows, let n = candidates.first?.count, n > 0, candidates.allSatisfy({ $0.count == n }) else {
            throw HalluError("decoding: speculate needs the same number (at least one) of candidates for each of the \(rows) rows")
        }
        return try speculator(candidates)
    }

    /// Beam search: asks the generator to restore sample `s` to the state it had after `length`
    /// generated tokens (its beams, their scores and the finished hypotheses), recompute its rows and
    /// call the hooks again with `isRetry` before choosing. Requires `DecodingNeeds.rollback`; greedy
    /// decoding then runs as beam search with one beam (the same tokens). Hypotheses that finish on
    /// the retried step stay with the restored state if the sample goes back there again.
    public func requestRollback(sample s: Int, toLength length: Int) throws {
        guard allowRollback else { throw HalluError("decoding: rollback needs beam search and DecodingNeeds.rollback") }
        rollbacks.append((s, length))
    }
}
