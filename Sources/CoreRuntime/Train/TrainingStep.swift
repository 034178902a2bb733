import Foundation

/// One optimiser step, the way every training loop in hallu takes it (the trainer, vision-tower
/// pretraining, the training benchmark): zero the gradients, backpropagate the loss of each
/// micro-batch scaled by 1/`accumulate` (so that the gradients are those of one large batch), clip
/// the global gradient norm, refuse a non-finite one, and update.
public struct TrainingStep {
    public let optimizer: Optimizer
    public let parameters: [Tensor]
    /// Global gradient-norm limit; 0 or less does not clip.
    public var clip: Float

    public init(optimizer: Optimizer, parameters: [Tensor], clip: Float) {
        self.optimizer = optimizer; self.parameters = parameters; self.clip = clip
    }

    /// Runs one step; `loss(i)` is the loss of micro-batch i. `context` completes the error of a
    /// non-finite gradient norm (e.g. " at step 12; batch ids: ..."). Returns the norm before clipping.
    @discardableResult
    public func run(accumulate: Int = 1, lrScale: Float = 1, context: () -> String = { "" },
                    loss: (_ microBatch: Int) throws -> Tensor) throws -> Float {
        let n = max(accumulate, 1)
        optimizer.zeroGrad()
        for i in 0..<n { try loss(i).scaled(1 / Float(n)).backward() }
        let norm = clipGradNorm(parameters, maxNorm: clip > 0 ? clip : .infinity)
        guard norm.isFinite else { throw HalluError("gradient norm is \(norm)\(context())") }
        try optimizer.step(lrScale: lrScale)
        return norm
    }
}
