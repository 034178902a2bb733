/// A counter-based random number generator: every value is a pure function of (seed, index), so a
/// mask or noise tensor is the same whatever the thread count or the order elements are visited.
public enum CounterRNG {
    /// SplitMix64's output function.
    @inline(__always)
    public static func mix64(_ v: UInt64) -> UInt64 {
        var z = v
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 64 random bits for `index` of the stream `seed`.
    @inline(__always)
    public static func bits(seed: UInt64, index: UInt64) -> UInt64 {
        mix64(mix64(seed) &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// A uniform float in [0, 1) with 24 random bits.
    @inline(__always)
    public static func uniform(seed: UInt64, index: UInt64) -> Float {
        Float(bits(seed: seed, index: index) >> 40) * 0x1p-24
    }

    /// 32-bit keys for the block of 2^32 indices that contains `index`.
    @inline(__always)
    static func keys(seed: UInt64, high: UInt64) -> (UInt32, UInt32) {
        let k = bits(seed: seed ^ 0x6A09_E667_F3BC_C908, index: high)
        return (UInt32(truncatingIfNeeded: k), UInt32(truncatingIfNeeded: k >> 32))
    }

    /// 32 random bits for the low half of an index under keys (k1, k2): two rounds of a 32-bit
    /// integer mixer (xorshift-multiply), vectorisable with AVX2.
    @inline(__always)
    static func hash32(_ lo: UInt32, _ k1: UInt32, _ k2: UInt32) -> UInt32 {
        var x = lo ^ k1
        x ^= x >> 16; x = x &* 0x7FEB_352D; x ^= x >> 15; x = x &* 0x846C_A68B; x ^= x >> 16
        x ^= k2
        x ^= x >> 16; x = x &* 0x7FEB_352D; x ^= x >> 15; x = x &* 0x846C_A68B; x ^= x >> 16
        return x
    }

    @inline(__always)
    static func hash32(_ lo: SIMD8<UInt32>, _ k1: UInt32, _ k2: UInt32) -> SIMD8<UInt32> {
        var x = lo ^ k1
        x ^= x &>> 16; x = x &* 0x7FEB_352D; x ^= x &>> 15; x = x &* 0x846C_A68B; x ^= x &>> 16
        x ^= k2
        x ^= x &>> 16; x = x &* 0x7FEB_352D; x ^= x &>> 15; x = x &* 0x846C_A68B; x ^= x &>> 16
        return x
    }
}

extension Kernels {
    /// Applies inverted dropout: y[i] = x[i] / (1 - p) when element `offset + i` is kept, else 0.
    ///
    /// Element j of stream `seed` is dropped when the top 24 of its 32 random bits are below
    /// round(p·2^24). The same (seed, offset) in `dropoutBackward` reproduces the mask, so nothing
    /// needs to be stored. p <= 0 copies; p >= 1 zeroes. y may alias x.
    public static func dropoutForward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int,
                                      p: Float, seed: UInt64, offset: Int = 0) {
        dropout(x, y, count: count, p: p, seed: seed, offset: offset, maskOnly: false)
    }

    /// dx = dy · mask, with the mask of `dropoutForward` for the same (p, seed, offset).
    public static func dropoutBackward(dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int,
                                       p: Float, seed: UInt64, offset: Int = 0) {
        dropout(dy, dx, count: count, p: p, seed: seed, offset: offset, maskOnly: false)
    }

    /// Writes the dropout multipliers (0 or 1/(1-p)) of elements `offset..<offset+count`.
    public static func dropoutMask(_ mask: UnsafeMutablePointer<Float>, count: Int, p: Float, seed: UInt64, offset: Int = 0) {
        dropout(UnsafePointer(mask), mask, count: count, p: p, seed: seed, offset: offset, maskOnly: true)
    }

    private static func dropout(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, p: Float,
                                seed: UInt64, offset: Int, maskOnly: Bool) {
        if count <= 0 { return }
        if !(p > 0) {
            if maskOnly { fill(y, value: 1, count: count) } else if UnsafePointer(y) != x { y.update(from: x, count: count) }
            return
        }
        if p >= 1 { fill(y, value: 0, count: count); return }
        let threshold = UInt32((Double(p) * 16_777_216).rounded())
        let keepScale = 1 / (1 - p)
        let thr = SIMD8<Int32>(repeating: Int32(threshold))
        let lane = SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7)
        spans(count, grain: grainTranscendental) { s, e in
            var i = s
            var high = UInt64(bitPattern: Int64(offset + i)) >> 32
            var (k1, k2) = CounterRNG.keys(seed: seed, high: high)
            @inline(__always) func scalar(_ i: Int) {
                let j = UInt64(bitPattern: Int64(offset + i))
                if j >> 32 != high { high = j >> 32; (k1, k2) = CounterRNG.keys(seed: seed, high: high) }
                let keep = CounterRNG.hash32(UInt32(truncatingIfNeeded: j), k1, k2) >> 8 >= threshold
                let m: Float = keep ? keepScale : 0
                y[i] = maskOnly ? m : x[i] * m
            }
            while i + 8 <= e {
                let j = UInt64(bitPattern: Int64(offset + i))
                let lo = UInt32(truncatingIfNeeded: j)
                if j >> 32 != high || lo > UInt32.max - 7 {
                    for t in 0..<8 { scalar(i + t) }
                } else {
                    let h = CounterRNG.hash32(SIMD8(repeating: lo) &+ lane, k1, k2) &>> 8
                    let keep = unsafeBitCast(h, to: SIMD8<Int32>.self) .>= thr
                    let m = V8(repeating: 0).replacing(with: keepScale, where: keep)
                    st8(y + i, maskOnly ? m : ld8(x + i) * m)
                }
                i += 8
            }
            while i < e { scalar(i); i += 1 }
        }
    }
}
