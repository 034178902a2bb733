import Foundation

/// SplitMix64, the generator behind the scene world. Its whole state is one UInt64 and it uses only
/// integer arithmetic, so a seed gives the same stream on every machine and Swift version (Swift's
/// own `random` makes no such promise).
public struct WorldRNG: Sendable {
    public private(set) var state: UInt64

    /// A generator started from `seed` directly.
    public init(seed: UInt64) { state = seed }

    /// An independent stream for one purpose and one item (e.g. the pixels of image 17), so items can
    /// be generated in any order or in parallel and still come out the same.
    public init(seed: UInt64, stream: UInt64, index: UInt64) {
        var s = Self.mix(seed &+ 0x9E37_79B9_7F4A_7C15)
        s = Self.mix(s ^ (stream &* 0xD1B5_4A32_D192_ED03))
        s = Self.mix(s ^ (index &* 0xABC9_8388_FB8F_AC03))
        state = s
    }

    static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// A uniform integer in `0..<n` without modulo bias (Lemire's method). `n` must be positive.
    public mutating func below(_ n: Int) -> Int {
        guard n > 1 else { return 0 }
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// A uniform integer in a closed range.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// A uniform element of a non-empty array.
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// An index drawn with probability proportional to `weights` (non-negative, not all zero);
    /// falls back to uniform when every weight is zero.
    public mutating func weightedIndex(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        guard total > 0 else { return below(weights.count) }
        let r = unit() * total
        var acc = 0.0
        for (i, w) in weights.enumerated() {
            acc += w
            if r < acc { return i }
        }
        return weights.lastIndex { $0 > 0 } ?? weights.count - 1
    }

    /// `k` distinct indices drawn one after another with probability proportional to the weights of
    /// those not yet drawn (sampling without replacement).
    public mutating func weightedSample(_ weights: [Double], count k: Int) -> [Int] {
        var w = weights
        var out: [Int] = []
        for _ in 0..<min(k, w.count) {
            let i = weightedIndex(w)
            out.append(i)
            w[i] = 0
            if w.allSatisfy({ $0 == 0 }) && out.count < k {
                // Only zero-weight items remain: take them uniformly.
                var rest = (0..<w.count).filter { !out.contains($0) }
                shuffle(&rest)
                out += rest.prefix(k - out.count)
                break
            }
        }
        return out
    }

    /// Fisher-Yates shuffle.
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, below(i + 1)) }
    }

    /// An approximately normal deviate (mean 0, sd 1) from the sum of four uniforms. Only additions
    /// and one multiplication, so it is bit-identical everywhere (no libm).
    public mutating func normal() -> Double {
        var s = 0.0
        for _ in 0..<4 { s += unit() }
        // Var of a sum of 4 U(0,1) is 1/3.
        return (s - 2) * 1.7320508075688772
    }
}
