import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private func rand(_ shape: [Int], _ seed: UInt64) -> Tensor {
    var rng = SeededRNG(seed: seed)
    return Tensor.uniform(shape, low: -1, high: 1, rng: &rng, requiresGrad: true)
}

@Test func fusedLoRALinearGradientCheck() throws {
    let x = rand([4, 5], 1), w = rand([3, 5], 2), bias = rand([3], 3), a = rand([2, 5], 4), b = rand([3, 2], 5)
    let residual = rand([4, 3], 6)
    let full = try GradCheck.check([x, w, bias, a, b, residual]) { t in
        try Tensor.loraLinear(t[0], weight: t[1], bias: t[2], loraA: t[3], loraB: t[4], scaling: 1.5, residual: t[5])
    }
    #expect(full.passes(), "\(full)")
    // As LoRA trains: the base frozen, the input rebuilt in backward instead of kept.
    let frozen = w.detach()
    let adapter = try GradCheck.check([x, a, b]) { t in
        try Tensor.loraLinear(t[0], weight: frozen, bias: nil, loraA: t[1], loraB: t[2], scaling: 2,
                              savedInput: Recomputable { t[0].detach() })
    }
    #expect(adapter.passes(), "\(adapter)")
}

@Test func aRecomputedInputIsNotKeptAndGivesTheSameGradients() throws {
    let w = rand([3, 5], 7), source = rand([4, 5], 8)
    func run(recompute: Bool) throws -> (weight: [Float], source: [Float], released: Bool) {
        w.grad = nil; source.grad = nil
        weak var weakInput: Tensor?
        let loss: Tensor
        do {
            let x = try source.scaled(2)
            weakInput = x
            let saved = recompute ? Recomputable { try source.scaled(2) } : nil
            let y = try Tensor.linear(x, w, nil, savedInput: saved)
            loss = try (y * y).sum()
        }
        let released = weakInput == nil
        try loss.backward()
        return (w.grad!.values, source.grad!.values, released)
    }
    let kept = try run(recompute: false), rebuilt = try run(recompute: true)
    #expect(!kept.released && rebuilt.released)
    #expect(kept.weight == rebuilt.weight && kept.source == rebuilt.source)
}

@Test func recomputedActivationsGiveTheSameLossAndGradients() throws {
    let config = tinyConfig()
    let img = config.imageTokenIndex
    let inputs = LlavaInputs(ids: [[1, img, 5, 6, 7, 2], [1, img, 9, 2]], pixels: tinyPixels(2),
                             labels: [[-100, -100, -100, 6, 7, 2], [-100, -100, 9, 2]])
    for lora in [false, true] {
        func step(recompute: Bool) throws -> (loss: Float, grads: [Float]) {
            let m = LlavaModel(config, seed: 21)
            if lora {
                m.applyLoRA(targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], rank: 4,
                            alpha: 8, dropout: 0, scope: "model.language_model", seed: 3)
                // B starts at zero, which would leave A's gradient zero too.
                for (name, p) in m.namedParameters() where name.hasSuffix("lora_B.weight") {
                    for i in 0..<p.count { p.data[i] = Float(i % 7) * 0.01 - 0.03 }
                }
            }
            m.languageModel.recomputeActivations = recompute
            let loss = try m.loss(inputs)
            try loss.backward()
            return (loss.item, m.trainableParameters().flatMap { $0.1.grad?.values ?? [] })
        }
        let kept = try step(recompute: false), rebuilt = try step(recompute: true)
        #expect(!kept.grads.isEmpty)
        // Bit for bit: the same kernels rebuild the same values.
        #expect(kept.loss == rebuilt.loss && kept.grads == rebuilt.grads, "lora \(lora)")
    }
}

/// `sum(swiglu(1.5 a, -0.5 b))`, with the gate and up tensors appended to `held` when asked.
private func swigluLoss(_ a: Tensor, _ b: Tensor, hold: Bool, held: inout [Tensor]) throws -> Tensor {
    let gate = try a.scaled(1.5), up = try b.scaled(-0.5)
    if hold { held = [gate, up] }
    return try Tensor.swiglu(gate, up).sum()
}

@Test func swigluOverwritesItsInputsOnlyWhenNothingElseHoldsThem() throws {
    let a = rand([3, 11], 9), b = rand([3, 11], 10)
    func grads(hold: Bool, passes: Int) throws -> (a: [Float], b: [Float], held: [[Float]], heldAfter: [[Float]]) {
        a.grad = nil; b.grad = nil
        var held: [Tensor] = []
        let loss = try swigluLoss(a, b, hold: hold, held: &held)
        let before = held.map(\.values)
        for i in 0..<passes { try loss.backward(retainGraph: i + 1 < passes) }
        return (a.grad!.values, b.grad!.values, before, held.map(\.values))
    }
    let free = try grads(hold: false, passes: 1), holding = try grads(hold: true, passes: 1)
    #expect(free.a == holding.a && free.b == holding.b)
    // A caller's reference keeps its values.
    #expect(holding.held == holding.heldAfter)
    // A retained graph runs twice on intact inputs.
    let twice = try grads(hold: false, passes: 2)
    #expect(zip(twice.a, free.a).allSatisfy { $0 == 2 * $1 } && zip(twice.b, free.b).allSatisfy { $0 == 2 * $1 })
}

@Test func aTensorReadByManyStepsSumsItsGradientCorrectly() throws {
    // x reaches the loss through `x + x` (one gradient tensor handed to both inputs) and `3x`:
    // the engine's first sum is a fresh buffer, later terms are added into it.
    let a = rand([4, 3], 11)
    func run(passes: Int) throws -> [Float] {
        a.grad = nil
        let x = try a.scaled(2)
        let loss = try ((x + x) + x.scaled(3)).sum()
        for i in 0..<passes { try loss.backward(retainGraph: i + 1 < passes) }
        return a.grad!.values
    }
    #expect(try run(passes: 1).allSatisfy { $0 == 10 })
    #expect(try run(passes: 2).allSatisfy { $0 == 20 })
}

@Test func recomputationIsARunSetting() throws {
    var config = RunConfig()
    #expect(config.recomputeActivations)
    try config.set("recompute_activations=false")
    #expect(!config.recomputeActivations)
}

@Test func tensorArenaReusesBestFitBlocksAndMergesFreedNeighbours() throws {
    let arena = TensorArena()
    let a = try #require(arena.allocate(100_000)), b = try #require(arena.allocate(200_000))
    let c = try #require(arena.allocate(50_000))
    for p in [a, b, c] { #expect(Int(bitPattern: p) % TensorArena.alignment == 0) }
    #expect(b >= a + 100_000 && c >= b + 200_000)
    arena.free(b, bytes: 200_000)
    // The hole b left is the smallest free block that fits.
    let d = try #require(arena.allocate(150_000))
    #expect(d == b)
    arena.free(a, bytes: 100_000)
    arena.free(d, bytes: 150_000)
    arena.free(c, bytes: 50_000)
    // Everything merged back into one block spanning the mapping.
    #expect(arena.freeSpace.blocks == 1 && arena.freeSpace.bytes == arena.mappedBytes)
    arena.trim()
    let e = try #require(arena.allocate(64))
    #expect(e == a)
    arena.free(e, bytes: 64)
    // A buffer past the dedicated size gets a mapping of its own.
    let big = try #require(arena.allocate(TensorArena.dedicatedBytes + 1))
    big.storeBytes(of: 7, as: UInt8.self)
    (big + TensorArena.dedicatedBytes).storeBytes(of: 9, as: UInt8.self)
    arena.free(big, bytes: TensorArena.dedicatedBytes + 1)
    #expect(arena.mappedBytes == TensorArena.segmentBytes)
}
