import Foundation

/// Softmax, log-softmax and logsumexp over the last axis.
extension Tensor {
    var lastDim: Int { shape.last ?? 1 }
    var rowCount: Int { count / Swift.max(lastDim, 1) }

    /// Softmax over the last axis.
    public func softmax() -> Tensor {
        let n = lastDim, rows = rowCount
        let out = Tensor(uninitializedShape: shape)
        for r in 0..<rows {
            let x = data + r * n, y = out.data + r * n
            var m = -Float.infinity
            for j in 0..<n { m = Swift.max(m, x[j]) }
            var s: Float = 0
            for j in 0..<n { let e = Foundation.exp(x[j] - m); y[j] = e; s += e }
            let inv = 1 / s
            for j in 0..<n { y[j] *= inv }
        }
        return Tensor.record(out, "softmax", [self]) { g in
            let gi = Tensor(uninitializedShape: out.shape)
            for r in 0..<rows {
                let y = out.data + r * n, dy = g.data + r * n, dx = gi.data + r * n
                var dot: Float = 0
                for j in 0..<n { dot += y[j] * dy[j] }
                for j in 0..<n { dx[j] = y[j] * (dy[j] - dot) }
            }
            return [gi]
        }
    }

    /// Log-softmax over the last axis.
    public func logSoftmax() -> Tensor {
        let n = lastDim, rows = rowCount
        let out = Tensor(uninitializedShape: shape)
        for r in 0..<rows {
            let x = data + r * n, y = out.data + r * n
            var m = -Float.infinity
            for j in 0..<n { m = Swift.max(m, x[j]) }
            var s: Float = 0
            for j in 0..<n { s += Foundation.exp(x[j] - m) }
            let lse = m + Foundation.log(s)
            for j in 0..<n { y[j] = x[j] - lse }
        }
        return Tensor.record(out, "log_softmax", [self]) { g in
            let gi = Tensor(uninitializedShape: out.shape)
            for r in 0..<rows {
                let y = out.data + r * n, dy = g.data + r * n, dx = gi.data + r * n
                var s: Float = 0
                for j in 0..<n { s += dy[j] }
                for j in 0..<n { dx[j] = dy[j] - Foundation.exp(y[j]) * s }
            }
            return [gi]
        }
    }

    /// log(sum(exp(x))) over the last axis; the result drops that axis.
    public func logSumExp() -> Tensor {
        let n = lastDim, rows = rowCount
        let out = Tensor(uninitializedShape: Array(shape.dropLast()))
        for r in 0..<rows {
            let x = data + r * n
            var m = -Float.infinity
            for j in 0..<n { m = Swift.max(m, x[j]) }
            var s: Float = 0
            for j in 0..<n { s += Foundation.exp(x[j] - m) }
            out.data[r] = m + Foundation.log(s)
        }
        return Tensor.record(out, "logsumexp", [self]) { [self] g in
            let gi = Tensor(uninitializedShape: self.shape)
            for r in 0..<rows {
                let x = self.data + r * n, dx = gi.data + r * n, lse = out.data[r], gr = g.data[r]
                for j in 0..<n { dx[j] = gr * Foundation.exp(x[j] - lse) }
            }
            return [gi]
        }
    }
}
