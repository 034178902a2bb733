import Testing
@testable import CoreRuntime
import HalluTestSupport

private func rand(_ shape: [Int], _ seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
    var rng = SeededRNG(seed: seed)
    return Tensor.uniform(shape, low: low, high: high, rng: &rng, requiresGrad: true)
}

@Test func broadcastArithmeticGradients() throws {
    let a = rand([2, 3, 4], 1), b = rand([3, 4], 2), c = rand([2, 1, 4], 3), s = rand([], 4)
    let r = try GradCheck.check([a, b, c, s]) { x in try ((x[0] + x[1]) * x[2] - x[3]) / (x[1] * x[1] + 2) }
    #expect(r.passes(), "\(r)")
}

@Test func unaryGradients() throws {
    let a = rand([3, 5], 5, low: 0.2, high: 2)
    for (name, f) in [("exp", { (t: Tensor) in t.exp() }), ("log", { $0.log() }), ("sqrt", { $0.sqrt() }),
                      ("pow", { $0.pow(2.5) }), ("tanh", { $0.tanh() }), ("sigmoid", { $0.sigmoid() }),
                      ("logsigmoid", { $0.logSigmoid() }), ("affine", { $0 * 3 + 1 })] as [(String, (Tensor) -> Tensor)] {
        let r = try GradCheck.check([a]) { x in f(x[0]) }
        #expect(r.passes(), "\(name): \(r)")
    }
}

@Test func reductionGradients() throws {
    let a = rand([2, 3, 4], 6)
    for axis in [0, 1, 2, -1] {
        #expect(try GradCheck.check([a]) { x in try x[0].sum(axis: axis) }.passes())
        #expect(try GradCheck.check([a]) { x in try x[0].mean(axis: axis, keepDim: true) }.passes())
        #expect(try GradCheck.check([a]) { x in try x[0].max(axis: axis) }.passes())
    }
    #expect(try GradCheck.check([a]) { x in x[0].mean() }.passes())
}

@Test func shapeOpGradients() throws {
    let a = rand([2, 3, 4], 7), b = rand([2, 2, 4], 8)
    #expect(try GradCheck.check([a]) { x in try x[0].permuted([2, 0, 1]) }.passes())
    #expect(try GradCheck.check([a]) { x in try x[0].transposed(0, 2).reshaped([4, -1]) }.passes())
    #expect(try GradCheck.check([a]) { x in try x[0].slice(axis: 1, 1..<3) }.passes())
    #expect(try GradCheck.check([a, b]) { x in try Tensor.concat([x[0], x[1], x[0]], axis: 1) }.passes())
    #expect(try GradCheck.check([a]) { x in try x[0].split(axis: 2, sizes: [1, 3])[1] }.passes())
}

@Test func matmulGradients() throws {
    let a = rand([2, 3, 4], 9), b = rand([2, 4, 5], 10), w = rand([4, 5], 11)
    #expect(try GradCheck.check([a, b]) { x in try x[0].matmul(x[1]) }.passes())
    #expect(try GradCheck.check([a, w]) { x in try x[0].matmul(x[1]) }.passes())
    let lw = rand([6, 4], 12), lb = rand([6], 13)
    #expect(try GradCheck.check([a, lw, lb]) { x in try Tensor.linear(x[0], x[1], x[2]) }.passes())
    #expect(try GradCheck.check([a, lw]) { x in try Tensor.linear(x[0], x[1], nil) }.passes())
}

@Test func indexingGradients() throws {
    let table = rand([5, 3], 14)
    #expect(try GradCheck.check([table]) { x in try Tensor.embedding(x[0], [4, 0, 4, 2]) }.passes())
    let a = rand([2, 3, 4], 15)
    #expect(try GradCheck.check([a]) { x in try x[0].gatherLastAxis([0, 3, 1, 2, 2, 0]) }.passes())
    #expect(try GradCheck.check([a]) { x in try x[0].indexSelect([1, 1, 0]) }.passes())
    #expect(try GradCheck.check([a]) { x in
        try x[0].maskedFill([true, false, false, true], maskShape: [4], value: -5)
    }.passes())
}

@Test func shapeErrorsNameBothShapes() throws {
    let a = Tensor.zeros([2, 3]), b = Tensor.zeros([4, 5])
    do { _ = try a + b; Issue.record("expected a throw") } catch let e as HalluError {
        #expect(e.message.contains("[2, 3]") && e.message.contains("[4, 5]"))
    }
    do { _ = try a.matmul(b); Issue.record("expected a throw") } catch let e as HalluError {
        #expect(e.message.contains("[2, 3]") && e.message.contains("[4, 5]"))
    }
    #expect(throws: HalluError.self) { try a.sum(axis: 2) }
    #expect(throws: HalluError.self) { try a.reshaped([5]) }
}

@Test func gradientsAccumulateAndDetach() throws {
    let a = Tensor([1, 2, 3])
    a.requiresGrad = true
    try (a * a).sum().backward()
    try (a * a).sum().backward()
    #expect(a.grad!.values == [4, 8, 12])
    let d = a.detach()
    #expect(!d.isTracked)
    let y = try withNoGrad { try a * a }
    #expect(y.gradFn == nil)
}

@Test func rngIsDeterministic() {
    var r1 = SeededRNG(seed: 42), r2 = SeededRNG(seed: 42)
    let x = (0..<5).map { _ in r1.nextNormal() }, y = (0..<5).map { _ in r2.nextNormal() }
    #expect(x == y)
    // Pinned values: a change here changes every seeded run, which must be deliberate.
    var r3 = SeededRNG(seed: 0)
    #expect(r3.next() == 7_960_286_522_194_355_700)
}
