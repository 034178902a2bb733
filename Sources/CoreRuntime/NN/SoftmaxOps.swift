import Foundation

/// Softmax, log-softmax and logsumexp over the last axis (row kernels in `Kernels`).
extension Tensor {
    var lastDim: Int { shape.last ?? 1 }
    var rowCount: Int { count / Swift.max(lastDim, 1) }

    /// Softmax over the last axis.
    public func softmax() -> Tensor {
        let n = lastDim, rows = rowCount
        let out = Tensor(uninitializedShape: shape)
        Kernels.softmaxForward(x: data, y: out.data, rows: rows, cols: n)
        guard Tensor.recording(self) else { return out }
        // The output's storage, not the output: the output owns this step, which must not own it.
        let y = out.storage
        out.gradFn = GradFn("softmax", [self]) { [shape] g in
            let gi = Tensor(uninitializedShape: shape)
            Kernels.softmaxBackward(y: y.pointer, dy: g.data, dx: gi.data, rows: rows, cols: n)
            return [gi]
        }
        return out
    }

    /// Log-softmax over the last axis.
    public func logSoftmax() -> Tensor {
        let n = lastDim, rows = rowCount
        let out = Tensor(uninitializedShape: shape)
        Kernels.logSoftmaxForward(x: data, y: out.data, rows: rows, cols: n)
        guard Tensor.recording(self) else { return out }
        let y = out.storage
        out.gradFn = GradFn("log_softmax", [self]) { [shape] g in
            let gi = Tensor(uninitializedShape: shape)
            Kernels.logSoftmaxBackward(y: y.pointer, dy: g.data, dx: gi.data, rows: rows, cols: n)
            return [gi]
        }
        return out
    }

    /// log(sum(exp(x))) over the last axis; the result drops that axis.
    public func logSumExp() -> Tensor {
        let n = lastDim, rows = rowCount
        let out = Tensor(uninitializedShape: Array(shape.dropLast()))
        Kernels.logSumExpForward(x: data, out: out.data, rows: rows, cols: n)
        guard Tensor.recording(self) else { return out }
        let lse = out.storage
        out.gradFn = GradFn("logsumexp", [self]) { [self] g in
            let gi = Tensor(uninitializedShape: self.shape)
            Kernels.logSumExpBackward(x: self.data, lse: lse.pointer, dOut: g.data, dx: gi.data, rows: rows, cols: n)
            return [gi]
        }
        return out
    }
}
