import Foundation

/// Rescales gradients so that their global L2 norm is at most `maxNorm`, like `torch.nn.utils.clip_grad_norm_`
/// with its eps of 1e-6: the norm over every gradient together is computed (squares summed in Double), and
/// when `maxNorm / (norm + 1e-6) < 1` every gradient is multiplied by that ratio in place.
///
/// Returns the norm before clipping. Parameters without a gradient are ignored. A non-finite norm (a NaN or
/// infinite gradient) is returned as is and nothing is scaled, so the trainer can see it and stop.
@discardableResult
public func clipGradNorm(_ params: [Tensor], maxNorm: Float) -> Float {
    var sumSquares = 0.0
    for p in params {
        guard let g = p.grad else { continue }
        sumSquares += GradNorm.sumOfSquares(g.data, g.count)
    }
    let norm = sumSquares.squareRoot()
    guard norm.isFinite else { return Float(norm) }
    let coefficient = Double(maxNorm) / (norm + 1e-6)
    if coefficient < 1 {
        let scale = Float(coefficient)
        for p in params {
            guard let g = p.grad else { continue }
            GradNorm.scale(g.data, g.count, by: scale)
        }
    }
    return Float(norm)
}

enum GradNorm {
    /// Sum of squares in Double, in a fixed order (lane-wise, then the lanes), so results are reproducible.
    static func sumOfSquares(_ x: UnsafeMutablePointer<Float>, _ n: Int) -> Double {
        var acc = SIMD8<Double>.zero
        var i = 0
        while i < n {
            let d = SIMD8<Double>(Lanes.load(x + i, n - i))
            acc += d * d
            i += Lanes.width
        }
        var total = 0.0
        for k in 0..<Lanes.width { total += acc[k] }
        return total
    }

    static func scale(_ x: UnsafeMutablePointer<Float>, _ n: Int, by s: Float) {
        var i = 0
        while i < n {
            Lanes.store(Lanes.load(x + i, n - i) * s, x + i, n - i)
            i += Lanes.width
        }
    }
}
