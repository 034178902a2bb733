/// Shape arithmetic shared by the ops: element counts, strides, broadcasting and axis checks.
public enum Shape {
    /// Product of the dimensions (1 for a scalar).
    @inline(__always) public static func count(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape { n &*= d }
        return n
    }

    /// Row-major strides.
    public static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// The NumPy broadcast of two shapes, or an error naming both.
    public static func broadcast(_ a: [Int], _ b: [Int], op: String) throws -> [Int] {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else {
                throw HalluError("\(op): shapes \(a) and \(b) cannot be broadcast together")
            }
        }
        return out
    }

    /// Resolves a possibly negative axis, or throws naming the shape.
    public static func axis(_ axis: Int, rank: Int, op: String) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < rank else {
            throw HalluError("\(op): axis \(axis) is out of range for a tensor of rank \(rank)")
        }
        return a
    }
}
