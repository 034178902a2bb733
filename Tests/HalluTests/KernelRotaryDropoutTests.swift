import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

@Test func kernelDropoutIsSeededAndThreadIndependent() {
    let n = 100_003
    let p: Float = 0.25
    var m1 = [Float](repeating: 0, count: n), m2 = m1, m3 = m1
    m1.withUnsafeMutableBufferPointer { Kernels.dropoutMask($0.baseAddress!, count: n, p: p, seed: 42) }
    m2.withUnsafeMutableBufferPointer { b in Parallel.withThreadLimit(1) { Kernels.dropoutMask(b.baseAddress!, count: n, p: p, seed: 42) } }
    m3.withUnsafeMutableBufferPointer { Kernels.dropoutMask($0.baseAddress!, count: n, p: p, seed: 43) }
    #expect(m1 == m2)
    #expect(m1 != m3)
    let kept = m1.filter { $0 != 0 }.count
    #expect(abs(Double(kept) / Double(n) - 0.75) < 0.01)
    #expect(m1.allSatisfy { $0 == 0 || $0 == 1 / (1 - p) })
    // An offset continues the same stream.
    var tail = [Float](repeating: 0, count: 1000)
    tail.withUnsafeMutableBufferPointer { Kernels.dropoutMask($0.baseAddress!, count: 1000, p: p, seed: 42, offset: 5001) }
    #expect(Array(m1[5001..<6001]) == tail)
    // Forward and backward apply the same mask.
    var rng = KT.Random(1)
    let x = rng.floats(n)
    var y = x, dx = x
    x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer {
        Kernels.dropoutForward(x: px.baseAddress!, y: $0.baseAddress!, count: n, p: p, seed: 42)
    }}
    x.withUnsafeBufferPointer { px in dx.withUnsafeMutableBufferPointer {
        Kernels.dropoutBackward(dy: px.baseAddress!, dx: $0.baseAddress!, count: n, p: p, seed: 42)
    }}
    #expect(y == dx)
    #expect((0..<n).allSatisfy { y[$0] == x[$0] * m1[$0] })
    // Indices past 2^32 take the per-element path and still agree with the vector path.
    var big1 = [Float](repeating: 0, count: 64), big2 = big1
    let off = (1 << 32) - 20
    big1.withUnsafeMutableBufferPointer { Kernels.dropoutMask($0.baseAddress!, count: 64, p: 0.5, seed: 9, offset: off) }
    for i in 0..<64 {
        big2.withUnsafeMutableBufferPointer { Kernels.dropoutMask($0.baseAddress! + i, count: 1, p: 0.5, seed: 9, offset: off + i) }
    }
    #expect(big1 == big2)
}

/// HF Llama rotary in double: for i < D/2, angle = pos · theta^(-2i/D).
private func refRotary(_ x: [Double], batch: Int, heads: Int, seq: Int, dim: Int, positions: [Int32], theta: Double,
                       bhtd: Bool) -> [Double] {
    var y = x
    let h2 = dim / 2
    for b in 0..<batch { for h in 0..<heads { for t in 0..<seq {
        let off = bhtd ? ((b * heads + h) * seq + t) * dim : ((b * seq + t) * heads + h) * dim
        let p = Double(positions[b * seq + t])
        for i in 0..<h2 {
            let a = p / Foundation.pow(theta, Double(2 * i) / Double(dim))
            let (c, s) = (Foundation.cos(a), Foundation.sin(a))
            y[off + i] = x[off + i] * c - x[off + h2 + i] * s
            y[off + h2 + i] = x[off + h2 + i] * c + x[off + i] * s
        }
    }}}
    return y
}

@Test func kernelRotaryMatchesReferenceInBothLayouts() throws {
    let (batch, heads, seq, dim) = (2, 3, 5, 20)
    let table = try Kernels.RotaryTable(headDim: dim, theta: 10_000, maxPositions: 8)
    var rng = KT.Random(4)
    let x = rng.floats(batch * heads * seq * dim)
    // Row 1 is left-padded (positions start later); 9 and 1000 are outside the table; -1 is odd but legal.
    let positions: [Int32] = [0, 1, 2, 3, 4, 0, 0, 9, 1000, -1]
    for layout in [Kernels.RotaryLayout.bhtd, .bthd] {
        var y = [Float](repeating: 0, count: x.count), back = y
        x.withUnsafeBufferPointer { px in positions.withUnsafeBufferPointer { pp in y.withUnsafeMutableBufferPointer { py in
            Kernels.rotaryForward(x: px.baseAddress!, y: py.baseAddress!, table: table, positions: pp.baseAddress!,
                                  batch: batch, heads: heads, seq: seq, layout: layout)
        }}}
        let want = refRotary(KT.d(x), batch: batch, heads: heads, seq: seq, dim: dim, positions: positions, theta: 10_000,
                             bhtd: layout == .bhtd)
        // Angles are float32 products (as in HF), so large positions carry ~1e-7·pos of angle error.
        #expect(KT.maxRel(y, want, floor: 1) < 2e-4, "\(layout)")
        // Backward is the inverse rotation: applying it to y returns x.
        y.withUnsafeBufferPointer { py in positions.withUnsafeBufferPointer { pp in back.withUnsafeMutableBufferPointer { pb in
            Kernels.rotaryBackward(dy: py.baseAddress!, dx: pb.baseAddress!, table: table, positions: pp.baseAddress!,
                                   batch: batch, heads: heads, seq: seq, layout: layout)
        }}}
        #expect(KT.maxRel(back, KT.d(x), floor: 1) < 1e-6)
        // Backward is the transpose of forward: <dy, R x> = <R^T dy, x>.
        let dy = rng.floats(x.count)
        var g = [Float](repeating: 0, count: x.count)
        dy.withUnsafeBufferPointer { pd in positions.withUnsafeBufferPointer { pp in g.withUnsafeMutableBufferPointer { pg in
            Kernels.rotaryBackward(dy: pd.baseAddress!, dx: pg.baseAddress!, table: table, positions: pp.baseAddress!,
                                   batch: batch, heads: heads, seq: seq, layout: layout)
        }}}
        let lhs = zip(dy, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let rhs = zip(g, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(lhs - rhs) < 1e-4)
    }
    // In place, and table entries equal the on-the-fly formula.
    var inPlace = x
    let small = try Kernels.RotaryTable(headDim: dim, theta: 10_000, maxPositions: 0)
    var viaFormula = x
    positions.withUnsafeBufferPointer { pp in
        inPlace.withUnsafeMutableBufferPointer { p in
            Kernels.rotaryForward(x: p.baseAddress!, y: p.baseAddress!, table: table, positions: pp.baseAddress!,
                                  batch: batch, heads: heads, seq: seq, layout: .bhtd)
        }
        viaFormula.withUnsafeMutableBufferPointer { p in
            Kernels.rotaryForward(x: p.baseAddress!, y: p.baseAddress!, table: small, positions: pp.baseAddress!,
                                  batch: batch, heads: heads, seq: seq, layout: .bhtd)
        }
    }
    #expect(inPlace == viaFormula)
    #expect(throws: HalluError.self) { _ = try Kernels.RotaryTable(headDim: 7, maxPositions: 4) }
}
