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

/// CPython's `random` module (MT19937, `random.seed(int)`, `getrandbits`, `choice`), bit-exact, so
/// readers can make the same random choices as the Python training scripts they stand in for
/// (HA-DPO picks prompts with `random.seed(42)`).
public struct PythonRandom: Sendable {
    private var mt = [UInt32](repeating: 0, count: 624)
    private var index = 624

    /// Equivalent to `random.seed(seed)` for a non-negative integer seed.
    public init(seed: UInt64) {
        var key: [UInt32] = []
        var s = seed
        repeat { key.append(UInt32(truncatingIfNeeded: s)); s >>= 32 } while s > 0
        initGenrand(19_650_218)
        var i = 1, j = 0
        for _ in 0..<max(624, key.count) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1; j += 1
            if i >= 624 { mt[0] = mt[623]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<623 {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= 624 { mt[0] = mt[623]; i = 1 }
        }
        mt[0] = 0x8000_0000
        index = 624
    }

    private mutating func initGenrand(_ s: UInt32) {
        mt[0] = s
        for i in 1..<624 { mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i) }
    }

    /// 32 random bits (MT19937 `genrand_uint32`).
    public mutating func nextUInt32() -> UInt32 {
        if index >= 624 {
            for k in 0..<624 {
                let y = (mt[k] & 0x8000_0000) | (mt[(k + 1) % 624] & 0x7FFF_FFFF)
                mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908_B0DF : 0)
            }
            index = 0
        }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// `random.getrandbits(k)` for 1 <= k <= 32.
    public mutating func getrandbits(_ k: Int) -> UInt32 { nextUInt32() >> UInt32(32 - k) }

    /// `random._randbelow(n)` (rejection sampling on `n.bit_length()` bits), n >= 1.
    public mutating func randbelow(_ n: Int) -> Int {
        let k = Int.bitWidth - n.leadingZeroBitCount
        var r = Int(getrandbits(k))
        while r >= n { r = Int(getrandbits(k)) }
        return r
    }

    /// `random.choice(items)`.
    public mutating func choice<T>(_ items: [T]) -> T { items[randbelow(items.count)] }
}
