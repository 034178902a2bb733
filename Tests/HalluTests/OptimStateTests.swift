import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Two groups of parameters with seeded values: [3, 5] and [9] at lr 1e-2 with decay, [4, 3] at lr 3e-3.
private func makeParams(seed: UInt64) -> [[Tensor]] {
    var rng = SeededRNG(seed: seed)
    return [[Tensor.randn([3, 5], rng: &rng, requiresGrad: true), Tensor.randn([9], rng: &rng, requiresGrad: true)],
            [Tensor.randn([4, 3], rng: &rng, requiresGrad: true)]]
}

private func makeGroups(_ params: [[Tensor]]) -> [ParamGroup] {
    [ParamGroup(name: "base", params: params[0], lr: 1e-2, weightDecay: 0.1),
     ParamGroup(name: "projector", params: params[1], lr: 3e-3)]
}

/// Seeded gradients for step `k`; the [9] tensor has none on odd steps, so its own counter lags.
private func setGrads(_ params: [[Tensor]], step k: Int) {
    var rng = SeededRNG(seed: 1000 + UInt64(k))
    for (g, row) in params.enumerated() {
        for (i, p) in row.enumerated() {
            let noGrad = g == 0 && i == 1 && k % 2 == 1
            p.grad = noGrad ? nil : Tensor.randn(p.shape, std: 0.5, rng: &rng)
        }
    }
}

private typealias MakeOptimizer = ([ParamGroup]) throws -> any Optimizer

private let makers: [(String, MakeOptimizer)] = [
    ("AdamW", { try AdamW(groups: $0) }),
    ("SGD", { try SGD(groups: $0, momentum: 0.9, dampening: 0.1) }),
    ("SGD-nesterov", { try SGD(groups: $0, momentum: 0.8, nesterov: true) }),
]

private func bits(_ params: [[Tensor]]) -> [[UInt32]] {
    params.flatMap { $0 }.map { $0.values.map(\.bitPattern) }
}

@Test(arguments: [0, 1, 2])
func stateRoundTripContinuesBitIdentically(_ which: Int) throws {
    let (name, make) = makers[which]
    let scales: [Float] = [0.2, 0.6, 1, 0.9, 0.5, 0.1, 0.7]
    // Reference: one uninterrupted run of 7 steps.
    let a = makeParams(seed: 7)
    let optA = try make(makeGroups(a))
    var saved: [String: Tensor] = [:]
    var savedParams: [[Float]] = []
    for k in 0..<7 {
        if k == 3 {
            saved = optA.stateArrays()
            savedParams = a.flatMap { $0 }.map(\.values)
        }
        setGrads(a, step: k)
        try optA.step(lrScale: scales[k])
    }
    // Resumed: fresh tensors and optimiser, restored at step 3.
    let b = makeParams(seed: 99)
    for (p, v) in zip(b.flatMap { $0 }, savedParams) { try p.assign(v) }
    let optB = try make(makeGroups(b))
    try optB.loadState(saved)
    #expect(optB.stepCount == 3)
    for k in 3..<7 {
        setGrads(b, step: k)
        try optB.step(lrScale: scales[k])
    }
    #expect(bits(a) == bits(b), "\(name): resumed parameters differ")
    let sa = optA.stateArrays(), sb = optB.stateArrays()
    #expect(Set(sa.keys) == Set(sb.keys))
    for (key, t) in sa { #expect(t.values.map(\.bitPattern) == sb[key]?.values.map(\.bitPattern), "\(name): \(key)") }
    #expect(optB.stepCount == 7)
}

@Test func adamWStateNamesAndCounters() throws {
    let p = makeParams(seed: 3)
    let opt = try AdamW(groups: makeGroups(p))
    for k in 0..<4 { setGrads(p, step: k); try opt.step() }
    let s = opt.stateArrays()
    #expect(Set(s.keys) == ["step_count",
                            "group.0.param.0.exp_avg", "group.0.param.0.exp_avg_sq", "group.0.param.0.step",
                            "group.0.param.1.exp_avg", "group.0.param.1.exp_avg_sq", "group.0.param.1.step",
                            "group.1.param.0.exp_avg", "group.1.param.0.exp_avg_sq", "group.1.param.0.step"])
    #expect(s["step_count"]?.item == 4)
    #expect(s["group.0.param.0.step"]?.item == 4)
    #expect(s["group.0.param.1.step"]?.item == 2)  // no gradient on steps 1 and 3
    #expect(s["group.1.param.0.exp_avg"]?.shape == [4, 3])
    // The arrays are copies: a later step does not change what was saved.
    let before = s["group.0.param.0.exp_avg"]!.values
    setGrads(p, step: 4)
    try opt.step()
    #expect(s["group.0.param.0.exp_avg"]!.values == before)
}

@Test(arguments: [0, 1])
func frozenParametersAreUntouched(_ which: Int) throws {
    var rng = SeededRNG(seed: 5)
    let trained = Tensor.randn([10], rng: &rng, requiresGrad: true)
    let frozen = Tensor.randn([10], rng: &rng)  // requiresGrad false: backward never gives it a gradient
    let unused = Tensor.randn([3], rng: &rng, requiresGrad: true)  // trainable but not in this loss
    let frozenBefore = frozen.values.map(\.bitPattern), unusedBefore = unused.values.map(\.bitPattern)
    let trainedBefore = trained.values
    let groups = [ParamGroup(name: "all", params: [trained, frozen, unused], lr: 0.1, weightDecay: 0.5)]
    let opt: any Optimizer = which == 0 ? try AdamW(groups: groups) : try SGD(groups: groups, momentum: 0.9)
    for _ in 0..<3 {
        opt.zeroGrad()
        let loss = try ((trained * frozen).sum() + (trained * trained).sum())
        try loss.backward()
        #expect(frozen.grad == nil && unused.grad == nil)
        try opt.step()
    }
    #expect(frozen.values.map(\.bitPattern) == frozenBefore)
    #expect(unused.values.map(\.bitPattern) == unusedBefore)  // weight decay too skips a parameter without gradient
    #expect(trained.values != trainedBefore)
    let names = opt.stateArrays().keys
    #expect(!names.contains { $0.hasPrefix("group.0.param.1.") || $0.hasPrefix("group.0.param.2.") })
    #expect(names.contains { $0.hasPrefix("group.0.param.0.") })
}

@Test func zeroGradDropsEveryGradient() throws {
    let p = makeParams(seed: 11)
    let opt = try SGD(groups: makeGroups(p))
    setGrads(p, step: 0)
    opt.zeroGrad()
    #expect(p.flatMap { $0 }.allSatisfy { $0.grad == nil })
    #expect(opt.allParams.count == 3)
}

@Test func sgdWithoutMomentumIsPlainDescent() throws {
    let p = try Tensor([1, -2, 3], shape: [3], requiresGrad: true)
    p.grad = try Tensor([0.5, 0.5, -1], shape: [3])
    let opt = try SGD(groups: [ParamGroup(name: "g", params: [p], lr: 0.1, weightDecay: 0.2)])
    try opt.step(lrScale: 0.5)
    // d = g + 0.2 p; p -= 0.05 d
    let want: [Float] = [1 - 0.05 * (0.5 + 0.2), -2 - 0.05 * (0.5 - 0.4), 3 - 0.05 * (-1 + 0.6)]
    #expect(maxRelativeError(p.values, want) < 1e-6)
    #expect(opt.stateArrays().keys.sorted() == ["step_count"])
}

@Test func adamWFirstStepByHand() throws {
    // On the first step the bias-corrected moments are g and g², so the update is lr * g / (|g| + eps).
    let p = try Tensor([1, -1, 2, 0.5, 3, 4, 5, 6, 7], shape: [9], requiresGrad: true)
    p.grad = try Tensor([0.3, -2, 1e-3, -0.7, 5, -5, 0.01, 1, -1], shape: [9])
    let before = p.values, g = p.grad!.values
    let opt = try AdamW(groups: [ParamGroup(name: "g", params: [p], lr: 0.01, weightDecay: 0.1)])
    try opt.step()
    for i in 0..<9 {
        let decayed = Double(before[i]) * (1 - 0.01 * 0.1)
        let want = decayed - 0.01 * Double(g[i]) / (abs(Double(g[i])) + 1e-8)
        #expect(abs(Double(p.values[i]) - want) <= 1e-6 * abs(want), "element \(i)")
    }
}

// MARK: - Bad input

@Test func loadStateRejectsBadArraysAndKeepsState() throws {
    let p = makeParams(seed: 13)
    let opt = try AdamW(groups: makeGroups(p))
    setGrads(p, step: 0)
    try opt.step()
    let good = opt.stateArrays()
    func rejects(_ arrays: [String: Tensor], _ fragment: String) {
        do {
            try opt.loadState(arrays)
            Issue.record("accepted bad state (\(fragment))")
        } catch let e as HalluError {
            #expect(e.message.contains(fragment), "\(e.message)")
        } catch { Issue.record("unexpected error \(error)") }
    }
    var a = good; a["group.0.param.0.momentum"] = Tensor.zeros([3, 5])
    rejects(a, "unknown array \"group.0.param.0.momentum\"")
    a = good; a["group.0.param.0.exp_avg"] = Tensor.zeros([5, 3])
    rejects(a, "shape [5, 3] does not match the parameter's shape [3, 5]")
    a = good; a["step_count"] = nil
    rejects(a, "missing \"step_count\"")
    a = good; a["group.1.param.0.exp_avg_sq"] = nil
    rejects(a, "missing \"group.1.param.0.exp_avg_sq\"")
    a = good; a["group.0.param.0.step"] = Tensor(scalar: 1.5)
    rejects(a, "1.5 is not a whole number >= 1")
    a = good; a["group.2.param.0.step"] = Tensor(scalar: 1)
    rejects(a, "there are only 2 parameter groups")
    a = good; a["group.1.param.4.step"] = Tensor(scalar: 1)
    rejects(a, "group 1 (projector) has only 1 parameters")
    a = good; a["weird"] = Tensor(scalar: 1)
    rejects(a, "unknown array \"weird\"")
    #expect(opt.stateArrays().mapValues(\.values) == good.mapValues(\.values))

    let sgd = try SGD(groups: makeGroups(p))
    do {
        try sgd.loadState(["step_count": Tensor(scalar: 1), "group.0.param.0.momentum_buffer": Tensor.zeros([3, 5])])
        Issue.record("SGD without momentum accepted a momentum buffer")
    } catch let e as HalluError { #expect(e.message.contains("no momentum")) }
}

@Test func stepRejectsBadGradientsAndSettings() throws {
    let p = makeParams(seed: 17)
    let opt = try AdamW(groups: makeGroups(p))
    setGrads(p, step: 0)
    p[1][0].grad = Tensor.zeros([5])
    let before = bits(p)
    #expect(throws: HalluError.self) { try opt.step() }
    #expect(bits(p) == before, "a rejected step changed parameters")
    #expect(opt.stepCount == 0)
    setGrads(p, step: 0)
    #expect(throws: HalluError.self) { try opt.step(lrScale: .nan) }
    #expect(throws: HalluError.self) { try opt.step(lrScale: -1) }
    opt.groups[1].lr = -1
    #expect(throws: HalluError.self) { try opt.step() }
    opt.groups[1].lr = 1e-3
    opt.groups[1].params.append(p[0][0])
    #expect(throws: HalluError.self) { try opt.step() }
    opt.groups[1].params.removeLast()
    try opt.step()
    #expect(opt.stepCount == 1)

    let dup = [ParamGroup(name: "a", params: [p[0][0]], lr: 1), ParamGroup(name: "b", params: [p[0][0]], lr: 1)]
    #expect(throws: HalluError.self) { try AdamW(groups: dup) }
    #expect(throws: HalluError.self) { try AdamW(groups: makeGroups(p), beta1: 1) }
    #expect(throws: HalluError.self) { try AdamW(groups: makeGroups(p), eps: -1) }
    #expect(throws: HalluError.self) { try SGD(groups: makeGroups(p), momentum: 0.9, dampening: 0.1, nesterov: true) }
    #expect(throws: HalluError.self) { try SGD(groups: makeGroups(p), nesterov: true) }
    #expect(throws: HalluError.self) { try SGD(groups: [ParamGroup(name: "w", params: p[0], lr: 1, weightDecay: -0.1)]) }
}
