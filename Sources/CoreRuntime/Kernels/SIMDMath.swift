/// 8-lane float32 math used by the kernels.
///
/// The standard library's generic SIMD `min`/`max`/`rounded`/`squareRoot` and float-int conversions
/// fall back to one lane at a time, so everything here is written with comparisons + `replacing`
/// (a blend), FMA (`addingProduct`) and bit casts, which lower to single AVX2 instructions.
/// Accuracy: `vexp` ~2 ulp, `vtanh` ~3 ulp, the normal CDF ~3e-7 relative (a fitted erfcx), so
/// every derived activation is within ~1e-6 relative of a double-precision reference. Blends
/// (`replacing(with:where:)`) cost three micro-ops on recent cores, so the hot paths keep them few.
typealias V8 = SIMD8<Float>

@inline(__always) func ld8(_ p: UnsafePointer<Float>) -> V8 {
    UnsafeRawPointer(p).loadUnaligned(as: V8.self)
}
@inline(__always) func ld8(_ p: UnsafeMutablePointer<Float>) -> V8 {
    UnsafeRawPointer(p).loadUnaligned(as: V8.self)
}
@inline(__always) func st8(_ p: UnsafeMutablePointer<Float>, _ v: V8) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
}

/// Loads `n` (< 8) floats; the other lanes hold `fill`.
@inline(__always) func ldPartial(_ p: UnsafePointer<Float>, _ n: Int, fill: Float = 0) -> V8 {
    var v = V8(repeating: fill)
    for i in 0..<n { v[i] = p[i] }
    return v
}
@inline(__always) func stPartial(_ p: UnsafeMutablePointer<Float>, _ v: V8, _ n: Int) {
    for i in 0..<n { p[i] = v[i] }
}

/// a * b + c with one rounding.
@inline(__always) func vfma(_ a: V8, _ b: V8, _ c: V8) -> V8 { c.addingProduct(a, b) }

@inline(__always) func vmin(_ a: V8, _ b: V8) -> V8 { a.replacing(with: b, where: b .< a) }
@inline(__always) func vmax(_ a: V8, _ b: V8) -> V8 { a.replacing(with: b, where: b .> a) }
@inline(__always) func vabs(_ a: V8) -> V8 {
    unsafeBitCast(unsafeBitCast(a, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: V8.self)
}
/// -|a| (one OR of the sign bit).
@inline(__always) func vnegabs(_ a: V8) -> V8 {
    unsafeBitCast(unsafeBitCast(a, to: SIMD8<UInt32>.self) | 0x8000_0000, to: V8.self)
}
/// `a` with the sign bit of `s`.
@inline(__always) func vcopysign(_ a: V8, _ s: V8) -> V8 {
    let m = unsafeBitCast(a, to: SIMD8<UInt32>.self) & 0x7fff_ffff
    let sign = unsafeBitCast(s, to: SIMD8<UInt32>.self) & 0x8000_0000
    return unsafeBitCast(m | sign, to: V8.self)
}

/// Largest lane (NaN lanes are ignored unless all are NaN).
@inline(__always) func hmax(_ v: V8) -> Float {
    let a = vmax(V8(lowHalf: v.lowHalf, highHalf: v.lowHalf), V8(lowHalf: v.highHalf, highHalf: v.highHalf))
    var m = a[0]
    if a[1] > m { m = a[1] }
    if a[2] > m { m = a[2] }
    if a[3] > m { m = a[3] }
    return m
}
/// Sum of lanes, in a fixed order.
@inline(__always) func hsum(_ v: V8) -> Float {
    let s = v.lowHalf + v.highHalf
    return (s[0] + s[2]) + (s[1] + s[3])
}

/// e^x. Below -87.3 the result is 0 (no denormals); above 88.72 it is +inf; NaN stays NaN.
@inline(__always) func vexp(_ x: V8) -> V8 {
    let hi: Float = 88.0, lo: Float = -87.33654
    var xc = x.replacing(with: hi, where: x .> hi)
    xc = xc.replacing(with: lo, where: x .< lo)
    var out = vexpCore(xc)
    out = out.replacing(with: 0, where: x .< lo)
    out = out.replacing(with: .infinity, where: x .> 88.722_83)
    return out
}

/// e^a for the arguments softmax, log-softmax and the sigmoid family produce (a <= 0; anything up
/// to 88 is still exact): only the underflow side is handled, below -87.3 the result is 0, NaN
/// stays NaN. Half the selects of `vexp`, which matters where the exponential is the whole kernel.
@inline(__always) func vexpNonPositive(_ a: V8) -> V8 {
    let lo = V8(repeating: -87.33654)
    return vexpCore(vmax(a, lo)).replacing(with: 0, where: a .< lo)
}

/// e^(a + aLow) for a in [-87.3, 88] and a small correction `aLow` (|aLow| << 1): the low part
/// enters after the range reduction, so it is not rounded away against a large `a`.
@inline(__always) func vexpCore(_ a: V8, plus aLow: V8? = nil) -> V8 {
    let magic = V8(repeating: 12_582_912)           // 1.5 * 2^23: adding it rounds to an integer
    let tt = vfma(a, V8(repeating: 1.442_695_04), magic)
    let n = tt - magic
    var r = a.addingProduct(n, V8(repeating: -0.693_359_375))
    r = r.addingProduct(n, V8(repeating: 2.121_944_4e-4))
    if let aLow { r += aLow }
    // e^r - 1 - r = r²·P(r), P of degree 5 evaluated in Estrin's scheme: three FMA levels instead
    // of five dependent ones. These kernels are bound by the dependency chain, not by throughput.
    let r2 = r * r, r4 = r2 * r2
    let p01 = vfma(V8(repeating: 1.666_666_55e-1), r, V8(repeating: 5.000_000_12e-1))
    let p23 = vfma(V8(repeating: 8.333_451_9e-3), r, V8(repeating: 4.166_579_59e-2))
    let p45 = vfma(V8(repeating: 1.987_569_15e-4), r, V8(repeating: 1.398_199_95e-3))
    let p = vfma(r4, p45, vfma(r2, p23, p01))
    let y = vfma(p, r2, r + 1)
    // 2^n: the low mantissa bits of tt hold n; shift them into the exponent field.
    let bits = (unsafeBitCast(tt, to: SIMD8<Int32>.self) &<< 23) &+ SIMD8<Int32>(repeating: 127 << 23)
    return y * unsafeBitCast(bits, to: V8.self)
}

/// 1 / (1 + e^-x), from e = e^-|x| (which never overflows): σ(|x|) = 1/(1+e), σ(-|x|) = e/(1+e).
@inline(__always) func vsigmoid(_ x: V8) -> V8 {
    let e = vexpNonPositive(vnegabs(x))
    return V8(repeating: 1).replacing(with: e, where: x .< 0) / (1 + e)
}

/// √x for x >= 0 (Newton's iteration from a bit-level estimate; within 1 ulp). The standard
/// library's `squareRoot` on SIMD types and in loops goes through libm one lane at a time.
@inline(__always) func vsqrt(_ x: V8) -> V8 {
    let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
    var y = unsafeBitCast((bits &>> 1) &+ 0x1FBD_1DF5, to: V8.self)
    y = 0.5 * (y + x / y)
    y = 0.5 * (y + x / y)
    y = 0.5 * (y + x / y)
    return y.replacing(with: 0, where: x .== 0)
}

/// σ(x) and 1 - σ(x), each with full relative accuracy: with e = e^-|x|, σ(|x|) = 1/(1+e) and
/// σ(-|x|) = 1 - σ(|x|) = e·σ(|x|) (no cancellation as σ -> 1).
@inline(__always) func vsigmoidAndComplement(_ x: V8) -> (s: V8, oneMinus: V8) {
    let e = vexpNonPositive(vnegabs(x))
    let big = 1 / (1 + e), small = e * big
    let negative = x .< 0
    return (big.replacing(with: small, where: negative), small.replacing(with: big, where: negative))
}

/// 1 - tanh²(x) = 4q/(1+q)² with q = e^(-2|x|), accurate where tanh saturates.
@inline(__always) func vtanhDerivative(_ x: V8) -> V8 {
    let q = vexp(-2 * vabs(x))
    let d = 1 + q
    return 4 * q / (d * d)
}

/// tanh(x): an odd polynomial near 0 (keeps relative accuracy for tiny x), 1 - 2/(e^{2|x|}+1) beyond.
@inline(__always) func vtanh(_ x: V8) -> V8 {
    let ax = vabs(x)
    let z = x * x
    var p = V8(repeating: -5.704_988_727_45e-3)
    p = vfma(p, z, V8(repeating: 2.063_908_879_54e-2))
    p = vfma(p, z, V8(repeating: -5.373_971_555_31e-2))
    p = vfma(p, z, V8(repeating: 1.333_144_220_36e-1))
    p = vfma(p, z, V8(repeating: -3.333_328_194_22e-1))
    let small = vfma(x * z, p, x)
    let e = vexp(ax + ax)
    let large = vcopysign(1 - 2 / (e + 1), x)
    return large.replacing(with: small, where: ax .< 0.625)
}

/// Φ(x), the standard normal CDF, and e^(-x²/2), both with relative accuracy ~3e-7 in the tails.
///
/// erfc(z) = e^(-z²)·erfcx(z) with z = |x|/√2, and the scaled function erfcx(z) = t·Q(t),
/// t = 1/(1 + z/2), Q a degree-8 polynomial fitted to relative error 2.3e-7 on z in [0, 9.3]
/// (scripts/fit_erfcx.py). In float32 the exponent -z² is large in the tails, so it is kept exact:
/// x² = xx + xxLow (FMA error term) and z² = xx/2 + xxLow/2, whose low half enters the exponential
/// after its range reduction. One exponential and one division per lane. `@_transparent` because
/// the optimiser otherwise keeps it out of line (a call per 8 lanes, with the tuple through memory).
@_transparent func vnormalCDFAndGaussian(_ x: V8) -> (cdf: V8, gauss: V8) {
    let xx = x * x
    let xxLow = vfma(x, x, -xx)
    let lo = V8(repeating: -87.33654)
    let negHalfXX = -0.5 * xx
    // Beyond |x| = 13.2 the Gaussian underflows to 0 (and Φ to 0 or 1).
    let g = vexpCore(vmax(negHalfXX, lo), plus: -0.5 * xxLow).replacing(with: 0, where: negHalfXX .< lo)
    // t = 1/(1 + z/2) = 1/(1 + |x|/(2√2))
    let t = 1 / vfma(vabs(x), V8(repeating: 0.353_553_390_593_273_8), V8(repeating: 1))
    // Q(t) = Σ q_k t^k, k = 0...8, in Estrin's scheme (four FMA levels instead of eight).
    let t2 = t * t, t4 = t2 * t2, t8 = t4 * t4
    let q01 = vfma(V8(repeating: 0.282_339_167_216_681_95), t, V8(repeating: 0.282_088_487_082_472_75))
    let q23 = vfma(V8(repeating: 0.201_651_764_707_173_7), t, V8(repeating: 0.243_365_965_960_148_7))
    let q45 = vfma(V8(repeating: 0.274_530_533_544_506_9), t, V8(repeating: -0.024_184_373_286_672_77))
    let q67 = vfma(V8(repeating: 0.283_087_893_247_446_5), t, V8(repeating: -0.484_114_733_724_668))
    let q03 = vfma(t2, q23, q01), q47 = vfma(t2, q67, q45)
    let q = vfma(t8, V8(repeating: -0.058_764_746_426_139_37), vfma(t4, q47, q03))
    let half = (0.5 * t * g) * q                    // Φ(-|x|) = erfc(z)/2; t·g is ready before q
    let cdf = (1 - half).replacing(with: half, where: x .< 0)
    return (cdf, g)
}
