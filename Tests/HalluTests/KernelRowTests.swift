import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

// Double-precision references, row by row.
private func refSoftmax(_ x: [Double], rows: Int, cols: Int, log: Bool) -> [Double] {
    var y = [Double](repeating: 0, count: x.count)
    for r in 0..<rows {
        let row = x[(r * cols)..<((r + 1) * cols)]
        let m = row.max()!
        let s = row.reduce(0.0) { $0 + Foundation.exp($1 - m) }
        for c in 0..<cols {
            let v = x[r * cols + c] - m
            y[r * cols + c] = log ? v - Foundation.log(s) : Foundation.exp(v) / s
        }
    }
    return y
}

private func refLSE(_ x: [Double], rows: Int, cols: Int) -> [Double] {
    (0..<rows).map { r in
        let row = x[(r * cols)..<((r + 1) * cols)]
        let m = row.max()!
        return m + Foundation.log(row.reduce(0.0) { $0 + Foundation.exp($1 - m) })
    }
}

private func refRMSNorm(_ x: [Double], _ w: [Double], rows: Int, cols: Int, eps: Double) -> [Double] {
    var y = x
    for r in 0..<rows {
        var ss = 0.0
        for c in 0..<cols { ss += x[r * cols + c] * x[r * cols + c] }
        let rs = 1 / (ss / Double(cols) + eps).squareRoot()
        for c in 0..<cols { y[r * cols + c] = x[r * cols + c] * rs * w[c] }
    }
    return y
}

private func refLayerNorm(_ x: [Double], _ w: [Double], _ b: [Double], rows: Int, cols: Int, eps: Double) -> [Double] {
    var y = x
    for r in 0..<rows {
        var mu = 0.0
        for c in 0..<cols { mu += x[r * cols + c] }
        mu /= Double(cols)
        var v = 0.0
        for c in 0..<cols { v += (x[r * cols + c] - mu) * (x[r * cols + c] - mu) }
        let rs = 1 / (v / Double(cols) + eps).squareRoot()
        for c in 0..<cols { y[r * cols + c] = (x[r * cols + c] - mu) * rs * w[c] + b[c] }
    }
    return y
}

private let rowShapes = [(1, 1), (3, 5), (4, 8), (5, 17), (2, 33), (7, 100)]

@Test func kernelSoftmaxFamilyForwardMatchesReference() {
    var rng = KT.Random(1)
    for (rows, cols) in rowShapes + [(3, 1000)] {
        let x = rng.floats(rows * cols, -20, 20)
        var y = [Float](repeating: 0, count: x.count), ly = y, lse = [Float](repeating: 0, count: rows)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { Kernels.softmaxForward(x: px.baseAddress!, y: $0.baseAddress!, rows: rows, cols: cols) }
            ly.withUnsafeMutableBufferPointer { Kernels.logSoftmaxForward(x: px.baseAddress!, y: $0.baseAddress!, rows: rows, cols: cols) }
            lse.withUnsafeMutableBufferPointer { Kernels.logSumExpForward(x: px.baseAddress!, out: $0.baseAddress!, rows: rows, cols: cols) }
        }
        let xd = KT.d(x)
        // x - max is rounded to float (as in PyTorch): for spreads up to 40 that is ~2e-6 relative in e^(x - max).
        #expect(KT.maxRel(y, refSoftmax(xd, rows: rows, cols: cols, log: false), floor: 1e-30) < 4e-6, "softmax \(rows)x\(cols)")
        #expect(KT.maxRel(ly, refSoftmax(xd, rows: rows, cols: cols, log: true), floor: 1) < 2e-6, "log-softmax \(rows)x\(cols)")
        #expect(KT.maxRel(lse, refLSE(xd, rows: rows, cols: cols), floor: 1) < 1e-6, "logsumexp \(rows)x\(cols)")
    }
}

@Test func kernelSoftmaxHandlesMaskedRows() {
    let inf = Float.infinity
    let x: [Float] = [-inf, -inf, -inf, 1, -inf, 2, 0, 0, 0]
    var y = [Float](repeating: 9, count: 9), ly = y, lse = [Float](repeating: 9, count: 3)
    x.withUnsafeBufferPointer { px in
        y.withUnsafeMutableBufferPointer { Kernels.softmaxForward(x: px.baseAddress!, y: $0.baseAddress!, rows: 3, cols: 3) }
        ly.withUnsafeMutableBufferPointer { Kernels.logSoftmaxForward(x: px.baseAddress!, y: $0.baseAddress!, rows: 3, cols: 3) }
        lse.withUnsafeMutableBufferPointer { Kernels.logSumExpForward(x: px.baseAddress!, out: $0.baseAddress!, rows: 3, cols: 3) }
    }
    #expect(Array(y[0..<3]) == [0, 0, 0])
    #expect(y[4] == 0 && abs(y[3] - 0.268_941_4) < 1e-6 && abs(y[5] - 0.731_058_6) < 1e-6)
    #expect(Array(y[6..<9]).allSatisfy { abs($0 - 1.0 / 3) < 1e-7 })
    #expect(lse[0] == -inf && ly[0] == -inf && ly[4] == -inf)
    var dx = [Float](repeating: 9, count: 3)
    let dOut: [Float] = [1, 1, 1]
    x.withUnsafeBufferPointer { px in lse.withUnsafeBufferPointer { pl in dOut.withUnsafeBufferPointer { pd in
        dx.withUnsafeMutableBufferPointer {
            Kernels.logSumExpBackward(x: px.baseAddress!, lse: pl.baseAddress!, dOut: pd.baseAddress!, dx: $0.baseAddress!, rows: 1, cols: 3)
        }
    }}}
    #expect(dx == [0, 0, 0])
}

@Test func kernelSoftmaxFamilyBackwardMatchesFiniteDifferences() {
    var rng = KT.Random(2)
    for (rows, cols) in rowShapes {
        let x = rng.floats(rows * cols, -3, 3), w = rng.floats(rows * cols)
        let xd = KT.d(x)
        var y = [Float](repeating: 0, count: x.count), ly = y, lse = [Float](repeating: 0, count: rows)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { Kernels.softmaxForward(x: px.baseAddress!, y: $0.baseAddress!, rows: rows, cols: cols) }
            ly.withUnsafeMutableBufferPointer { Kernels.logSoftmaxForward(x: px.baseAddress!, y: $0.baseAddress!, rows: rows, cols: cols) }
            lse.withUnsafeMutableBufferPointer { Kernels.logSumExpForward(x: px.baseAddress!, out: $0.baseAddress!, rows: rows, cols: cols) }
        }
        var dxs = [Float](repeating: 0, count: x.count), dxl = dxs, dxe = dxs
        let wr = Array(w[0..<rows])
        y.withUnsafeBufferPointer { py in w.withUnsafeBufferPointer { pw in dxs.withUnsafeMutableBufferPointer {
            Kernels.softmaxBackward(y: py.baseAddress!, dy: pw.baseAddress!, dx: $0.baseAddress!, rows: rows, cols: cols)
        }}}
        ly.withUnsafeBufferPointer { py in w.withUnsafeBufferPointer { pw in dxl.withUnsafeMutableBufferPointer {
            Kernels.logSoftmaxBackward(y: py.baseAddress!, dy: pw.baseAddress!, dx: $0.baseAddress!, rows: rows, cols: cols)
        }}}
        x.withUnsafeBufferPointer { px in lse.withUnsafeBufferPointer { pl in wr.withUnsafeBufferPointer { pw in
            dxe.withUnsafeMutableBufferPointer {
                Kernels.logSumExpBackward(x: px.baseAddress!, lse: pl.baseAddress!, dOut: pw.baseAddress!, dx: $0.baseAddress!, rows: rows, cols: cols)
            }
        }}}
        let gs = KT.numericGradient(xd) { KT.weighted(refSoftmax($0, rows: rows, cols: cols, log: false), w) }
        let gl = KT.numericGradient(xd) { KT.weighted(refSoftmax($0, rows: rows, cols: cols, log: true), w) }
        let ge = KT.numericGradient(xd) { KT.weighted(refLSE($0, rows: rows, cols: cols), wr) }
        #expect(KT.relToMax(dxs, gs) < 1e-5, "softmax \(rows)x\(cols)")
        #expect(KT.relToMax(dxl, gl) < 1e-5, "log-softmax \(rows)x\(cols)")
        #expect(KT.relToMax(dxe, ge) < 1e-5, "logsumexp \(rows)x\(cols)")
    }
}

@Test func kernelRMSNormMatchesReferenceAndFiniteDifferences() {
    var rng = KT.Random(3)
    // One column is degenerate (y = ±w, the x-gradient is ~eps/x² and pure rounding noise).
    for (rows, cols) in rowShapes.filter({ $0.1 > 1 }) + [(70, 64)] {
        let x = rng.floats(rows * cols, -2, 2), w = rng.floats(cols, 0.5, 1.5), dy = rng.floats(rows * cols)
        let eps: Float = 1e-5
        var y = [Float](repeating: 0, count: x.count), rstd = [Float](repeating: 0, count: rows)
        x.withUnsafeBufferPointer { px in w.withUnsafeBufferPointer { pw in y.withUnsafeMutableBufferPointer { py in
            rstd.withUnsafeMutableBufferPointer { pr in
                Kernels.rmsNormForward(x: px.baseAddress!, weight: pw.baseAddress!, y: py.baseAddress!, rstd: pr.baseAddress!,
                                       rows: rows, cols: cols, eps: eps)
            }
        }}}
        #expect(KT.maxRel(y, refRMSNorm(KT.d(x), KT.d(w), rows: rows, cols: cols, eps: Double(eps)), floor: 1e-3) < 2e-6)
        var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: cols)
        x.withUnsafeBufferPointer { px in w.withUnsafeBufferPointer { pw in rstd.withUnsafeBufferPointer { pr in
            dy.withUnsafeBufferPointer { pd in dx.withUnsafeMutableBufferPointer { pdx in dw.withUnsafeMutableBufferPointer { pdw in
                Kernels.rmsNormBackward(x: px.baseAddress!, weight: pw.baseAddress!, rstd: pr.baseAddress!, dy: pd.baseAddress!,
                                        dx: pdx.baseAddress!, dWeight: pdw.baseAddress!, rows: rows, cols: cols)
            }}}
        }}}
        let wd = KT.d(w), xd = KT.d(x)
        let gx = KT.numericGradient(xd) { KT.weighted(refRMSNorm($0, wd, rows: rows, cols: cols, eps: Double(eps)), dy) }
        let gw = KT.numericGradient(wd) { KT.weighted(refRMSNorm(xd, $0, rows: rows, cols: cols, eps: Double(eps)), dy) }
        #expect(KT.relToMax(dx, gx) < 1e-5, "rmsnorm dx \(rows)x\(cols): \(KT.relToMax(dx, gx))")
        #expect(KT.relToMax(dw, gw) < 1e-5, "rmsnorm dw \(rows)x\(cols): \(KT.relToMax(dw, gw))")
        // Without weight gradient, dx is unchanged; without weight, y = x·rstd.
        var dx2 = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { px in w.withUnsafeBufferPointer { pw in rstd.withUnsafeBufferPointer { pr in
            dy.withUnsafeBufferPointer { pd in dx2.withUnsafeMutableBufferPointer { pdx in
                Kernels.rmsNormBackward(x: px.baseAddress!, weight: pw.baseAddress!, rstd: pr.baseAddress!, dy: pd.baseAddress!,
                                        dx: pdx.baseAddress!, dWeight: nil, rows: rows, cols: cols)
            }}
        }}}
        #expect(dx2 == dx)
    }
}

@Test func kernelLayerNormMatchesReferenceAndFiniteDifferences() {
    var rng = KT.Random(4)
    for (rows, cols) in rowShapes.filter({ $0.1 > 1 }) + [(70, 64)] {
        let x = rng.floats(rows * cols, -2, 3), w = rng.floats(cols, 0.5, 1.5), b = rng.floats(cols), dy = rng.floats(rows * cols)
        let eps: Float = 1e-5
        var y = [Float](repeating: 0, count: x.count), mean = [Float](repeating: 0, count: rows), rstd = mean
        x.withUnsafeBufferPointer { px in w.withUnsafeBufferPointer { pw in b.withUnsafeBufferPointer { pb in
            y.withUnsafeMutableBufferPointer { py in mean.withUnsafeMutableBufferPointer { pm in rstd.withUnsafeMutableBufferPointer { pr in
                Kernels.layerNormForward(x: px.baseAddress!, weight: pw.baseAddress!, bias: pb.baseAddress!, y: py.baseAddress!,
                                         mean: pm.baseAddress!, rstd: pr.baseAddress!, rows: rows, cols: cols, eps: eps)
            }}}
        }}}
        let (xd, wd, bd) = (KT.d(x), KT.d(w), KT.d(b))
        #expect(KT.maxRel(y, refLayerNorm(xd, wd, bd, rows: rows, cols: cols, eps: Double(eps)), floor: 1e-2) < 5e-6)
        var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 1, count: cols), db = dw
        x.withUnsafeBufferPointer { px in w.withUnsafeBufferPointer { pw in mean.withUnsafeBufferPointer { pm in
            rstd.withUnsafeBufferPointer { pr in dy.withUnsafeBufferPointer { pd in
                dx.withUnsafeMutableBufferPointer { pdx in dw.withUnsafeMutableBufferPointer { pdw in db.withUnsafeMutableBufferPointer { pdb in
                    Kernels.layerNormBackward(x: px.baseAddress!, weight: pw.baseAddress!, mean: pm.baseAddress!, rstd: pr.baseAddress!,
                                              dy: pd.baseAddress!, dx: pdx.baseAddress!, dWeight: pdw.baseAddress!, dBias: pdb.baseAddress!,
                                              accumulate: true, rows: rows, cols: cols)
                }}}
            }}
        }}}
        let gx = KT.numericGradient(xd) { KT.weighted(refLayerNorm($0, wd, bd, rows: rows, cols: cols, eps: Double(eps)), dy) }
        let gw = KT.numericGradient(wd) { KT.weighted(refLayerNorm(xd, $0, bd, rows: rows, cols: cols, eps: Double(eps)), dy) }
        let gb = KT.numericGradient(bd) { KT.weighted(refLayerNorm(xd, wd, $0, rows: rows, cols: cols, eps: Double(eps)), dy) }
        #expect(KT.relToMax(dx, gx) < 2e-5, "layernorm dx \(rows)x\(cols): \(KT.relToMax(dx, gx))")
        // accumulate: true added to the initial ones.
        #expect(KT.relToMax(dw.map { $0 - 1 }, gw) < 2e-5, "layernorm dw \(rows)x\(cols)")
        #expect(KT.relToMax(db.map { $0 - 1 }, gb) < 2e-5, "layernorm db \(rows)x\(cols)")
    }
}

@Test func kernelNormWeightGradientsAreThreadCountIndependent() {
    var rng = KT.Random(9)
    let (rows, cols) = (301, 96)
    let x = rng.floats(rows * cols), w = rng.floats(cols), dy = rng.floats(rows * cols)
    func run() -> ([Float], [Float], [Float]) {
        var mean = [Float](repeating: 0, count: rows), rstd = mean, y = x
        var dx = x, dw = w, db = w
        x.withUnsafeBufferPointer { px in w.withUnsafeBufferPointer { pw in dy.withUnsafeBufferPointer { pd in
            y.withUnsafeMutableBufferPointer { py in mean.withUnsafeMutableBufferPointer { pm in rstd.withUnsafeMutableBufferPointer { pr in
                Kernels.layerNormForward(x: px.baseAddress!, weight: pw.baseAddress!, bias: nil, y: py.baseAddress!,
                                         mean: pm.baseAddress!, rstd: pr.baseAddress!, rows: rows, cols: cols, eps: 1e-5)
                dx.withUnsafeMutableBufferPointer { pdx in dw.withUnsafeMutableBufferPointer { pdw in db.withUnsafeMutableBufferPointer { pdb in
                    Kernels.layerNormBackward(x: px.baseAddress!, weight: pw.baseAddress!, mean: pm.baseAddress!, rstd: pr.baseAddress!,
                                              dy: pd.baseAddress!, dx: pdx.baseAddress!, dWeight: pdw.baseAddress!,
                                              dBias: pdb.baseAddress!, rows: rows, cols: cols)
                }}}
            }}}
        }}}
        return (dx, dw, db)
    }
    let a = run(), b = run(), c = Parallel.withThreadLimit(1) { run() }
    #expect(a.0 == b.0 && a.1 == b.1 && a.2 == b.2)
    #expect(a.0 == c.0 && a.1 == c.1 && a.2 == c.2)
}
