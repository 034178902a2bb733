import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private func withGrad(_ values: [Float]) throws -> Tensor {
    let p = Tensor.zeros([values.count], requiresGrad: true)
    p.grad = try Tensor(values, shape: [values.count])
    return p
}

@Test func clipGradNormByHand() throws {
    // Global norm of (3, 4) and (12) is sqrt(9 + 16 + 144) = 13.
    let a = try withGrad([3, 4]), b = try withGrad([12]), none = Tensor.zeros([2], requiresGrad: true)
    let norm = clipGradNorm([a, none, b], maxNorm: 6.5)
    #expect(norm == 13)
    let c = 6.5 / (13 + 1e-6)
    #expect(maxRelativeError(a.grad!.values, [Float(3 * c), Float(4 * c)]) <= 1e-7)
    #expect(maxRelativeError(b.grad!.values, [Float(12 * c)]) <= 1e-7)
    #expect(none.grad == nil)
    // After clipping the norm is maxNorm (less the eps).
    #expect(abs(clipGradNorm([a, b], maxNorm: 100) - 6.5) < 1e-5)
}

@Test func clipGradNormLeavesSmallGradientsAlone() throws {
    let a = try withGrad([0.1, -0.2, 0.3]), b = try withGrad(Array(repeating: 0.01, count: 17))
    let before = (a.grad!.values + b.grad!.values).map(\.bitPattern)
    let norm = clipGradNorm([a, b], maxNorm: 1)
    let want = (0.01 + 0.04 + 0.09 + 17 * 0.0001).squareRoot()
    #expect(abs(Double(norm) - want) < 1e-7)
    #expect((a.grad!.values + b.grad!.values).map(\.bitPattern) == before)
}

@Test func clipGradNormLongTensorUsesDouble() throws {
    // 1,000,003 ones: sqrt(1000003), exact when squares are summed in Double.
    let p = try withGrad(Array(repeating: 1, count: 1_000_003))
    let norm = clipGradNorm([p], maxNorm: 1)
    #expect(norm == Float(Double(1_000_003).squareRoot()))
    #expect(abs(Double(p.grad!.values[1_000_002]) - 1 / (Double(1_000_003).squareRoot() + 1e-6)) < 1e-9)
}

@Test func clipGradNormReportsNonFiniteWithoutScaling() throws {
    let a = try withGrad([1, .nan, 2]), b = try withGrad([5])
    let n = clipGradNorm([a, b], maxNorm: 1)
    #expect(n.isNaN)
    #expect(b.grad!.values == [5])
    let c = try withGrad([.infinity, 1])
    #expect(clipGradNorm([c], maxNorm: 1) == .infinity)
    #expect(c.grad!.values[1] == 1)
    #expect(clipGradNorm([Tensor.zeros([3])], maxNorm: 1) == 0)
}
