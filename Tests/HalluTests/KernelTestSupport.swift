import Foundation
@testable import CoreRuntime
import HalluTestSupport

/// Shared helpers of the kernel tests (namespaced so the single test target stays collision-free).
enum KT {
    /// Deterministic random inputs.
    struct Random {
        var state: UInt64
        init(_ seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            return CounterRNG.mix64(state)
        }
        /// Uniform in [lo, hi).
        mutating func float(_ lo: Float = -1, _ hi: Float = 1) -> Float {
            lo + (hi - lo) * Float(next() >> 40) * 0x1p-24
        }
        mutating func floats(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
            (0..<n).map { _ in float(lo, hi) }
        }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// Largest |a - b| / (|b| + floor); infinities and NaNs must match exactly.
    static func maxRel(_ a: [Float], _ b: [Double], floor: Double = 1e-6) -> Double {
        guard a.count == b.count else { return .infinity }
        var m = 0.0
        for i in a.indices {
            if a[i].isNaN != b[i].isNaN { return .infinity }
            if a[i].isNaN { continue }
            if a[i].isInfinite || b[i].isInfinite {
                if Double(a[i]) != b[i] { return .infinity }
                continue
            }
            m = max(m, abs(Double(a[i]) - b[i]) / (abs(b[i]) + floor))
        }
        return m
    }

    /// Largest |a - b| relative to the largest |b| (a norm-wise error for gradients).
    static func relToMax(_ a: [Float], _ b: [Double]) -> Double {
        guard a.count == b.count else { return .infinity }
        let scale = max(1e-12, b.map { abs($0) }.max() ?? 0)
        var m = 0.0
        for i in a.indices { m = max(m, abs(Double(a[i]) - b[i])) }
        return m / scale
    }

    /// Central finite differences of a scalar double function.
    static func numericGradient(_ x: [Double], h: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
        var g = [Double](repeating: 0, count: x.count)
        var xx = x
        for i in x.indices {
            let step = h * max(1, abs(x[i]))
            xx[i] = x[i] + step
            let fp = f(xx)
            xx[i] = x[i] - step
            let fm = f(xx)
            xx[i] = x[i]
            g[i] = (fp - fm) / (2 * step)
        }
        return g
    }

    static func d(_ a: [Float]) -> [Double] { a.map(Double.init) }
    static func f(_ a: [Double]) -> [Float] { a.map(Float.init) }

    /// Σ w·y, the scalar whose gradient with respect to the inputs is the backward pass for dy = w.
    static func weighted(_ y: [Double], _ w: [Float]) -> Double {
        var s = 0.0
        for i in y.indices { s += y[i] * Double(w[i]) }
        return s
    }
}
