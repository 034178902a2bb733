/// Eight-float blocks for the optimiser kernels. The last partial block is zero-padded and run through the
/// same arithmetic as full blocks, so every element sees identical operations wherever it sits in a tensor.
enum Lanes {
    typealias V = SIMD8<Float>
    static let width = 8

    @inline(__always) static func load(_ p: UnsafePointer<Float>, _ n: Int) -> V {
        if n >= width { return UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        var v = V.zero
        for k in 0..<n { v[k] = p[k] }
        return v
    }

    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if n >= width { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self); return }
        for k in 0..<n { p[k] = v[k] }
    }

    /// Square root of lanes known to be >= 0 (or NaN). Taking the magnitude first changes no such value, but
    /// lets the compiler drop the errno path of a negative argument and emit one vector instruction instead
    /// of eight scalar ones with a branch each.
    @inline(__always) static func sqrtNonNegative(_ x: V) -> V {
        var r = V()
        for k in 0..<width { r[k] = x[k].magnitude.squareRoot() }
        return r
    }
}
