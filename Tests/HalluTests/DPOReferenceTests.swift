import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// A few AdamW steps of HA-DPO (with the SFT term) on `pairs`; returns the losses.
func dpoSteps(_ ctx: TrainContext, _ pairs: [PreferencePair], steps: Int, lr: Float) throws -> [Float] {
    let opt = try AdamW(groups: [ParamGroup(name: "default", params: ctx.model.trainableParameters().map(\.1), lr: lr)])
    var losses: [Float] = []
    for _ in 0..<steps {
        opt.zeroGrad()
        let lp = try DPO.logProbs(pairs, ctx, sftObjective: ctx.tokenObjective)
        let out = try DPO.loss(lp, beta: 0.1, gamma: 0.5)
        try out.loss.backward()
        try opt.step(lrScale: 1)
        losses.append(out.loss.item)
    }
    return losses
}

@Test func loraReferenceIsTheBaseAndNeverChanges() throws {
    let ctx = dpoContext(lora: true)
    let pairs = dpoPairs(2)
    #expect(try ctx.reference.mode == .adaptersOff)
    let (inputs, _) = try ctx.preferenceInputs(pairs)
    let refBefore = try ctx.reference.logProbs(inputs, context: ctx)
    let policyBefore = try withNoGrad { try DPO.logProbs(pairs, ctx) }
    // Fresh adapters (B = 0): the policy is the reference, so h = 0 and the DPO loss is log 2.
    #expect(policyBefore.policyChosen.values == Array(refBefore[0..<2]))
    #expect(try DPO.loss(policyBefore, beta: 0.1).loss.item == Float(log(2.0)))
    let base = snapshot(try ctx.reference.parameters)
    let losses = try dpoSteps(ctx, pairs, steps: 4, lr: 1e-2)
    #expect(losses.last! < losses.first!, "\(losses)")
    // Only adapters received gradients; the base weights are bit-for-bit the same.
    for (name, t) in ctx.model.namedParameters() where !name.contains(".lora_") {
        #expect(t.grad == nil, "\(name) has a gradient")
        #expect(!t.requiresGrad, "\(name) trains")
    }
    #expect(changedTensors(snapshot(try ctx.reference.parameters), base).isEmpty)
    #expect(try ctx.reference.logProbs(inputs, context: ctx) == refBefore)
    // The policy did move, and the adapters are switched back on after the reference pass.
    let after = try withNoGrad { try DPO.logProbs(pairs, ctx) }
    #expect(after.policyChosen.values != policyBefore.policyChosen.values)
    #expect(ctx.model.namedModules().allSatisfy { (($0.1 as? Linear)?.lora?.enabled ?? true) })
}

@Test func frozenCopyReferenceNeverChanges() throws {
    let ctx = dpoContext(lora: false)
    let pairs = dpoPairs(2)
    #expect(try ctx.reference.mode == .frozenCopy)
    let (inputs, _) = try ctx.preferenceInputs(pairs)
    let refBefore = try ctx.reference.logProbs(inputs, context: ctx)
    let frozen = try ctx.reference.parameters
    let frozenValues = snapshot(frozen)
    let policyStart = snapshot(ctx.model.namedParameters())
    #expect(changedTensors(frozenValues, policyStart).isEmpty)   // the copy holds the starting weights
    _ = try dpoSteps(ctx, pairs, steps: 3, lr: 1e-3)
    for (name, t) in frozen {
        #expect(t.grad == nil && !t.requiresGrad, "reference \(name) is trainable")
        #expect(ctx.model.namedParameters().allSatisfy { $0.1 !== t }, "reference shares \(name) with the policy")
    }
    #expect(changedTensors(snapshot(frozen), frozenValues).isEmpty)
    #expect(try ctx.reference.logProbs(inputs, context: ctx) == refBefore)
    let moved = changedTensors(snapshot(ctx.model.namedParameters()), policyStart).count
    #expect(moved > 10, "only \(moved) policy tensors changed")
}

@Test func loraWithOtherTrainableWeightsKeepsTheirStartingValues() throws {
    let ctx = dpoContext(lora: true)
    // The projector trains beside the adapters: the reference must keep its starting values.
    #expect(ctx.model.setTrainable(true, prefixes: ["model.multi_modal_projector"]) == 4)
    for (n, t) in ctx.model.namedParameters() where n.contains("lora_B") { for i in 0..<t.count { t.data[i] = 0.02 } }
    let pairs = dpoPairs(2)
    let (inputs, _) = try ctx.preferenceInputs(pairs)
    #expect(try ctx.reference.mode == .adaptersOff)
    #expect(try !ctx.reference.sharesImageFeatures)
    let refBefore = try ctx.reference.logProbs(inputs, context: ctx)
    // The reference is the policy without adapters (its state is restored after each reference pass).
    ctx.model.setLoRAEnabled(false)
    let noAdapters = try withNoGrad { try DPO.sequenceForward(ctx.model, inputs, features: nil).logps.values }
    #expect(try ctx.reference.logProbs(inputs, context: ctx) == refBefore)
    #expect(ctx.model.namedModules().allSatisfy { (($0.1 as? Linear)?.lora?.enabled ?? false) == false })
    ctx.model.setLoRAEnabled(true)
    for (a, b) in zip(refBefore, noAdapters) { #expect(abs(a - b) < 1e-4, "\(a) vs \(b)") }
    let projector = { snapshot(ctx.model.namedParameters().filter { $0.0.hasPrefix("model.multi_modal_projector") }) }
    let projectorStart = projector(), referenceStart = snapshot(try ctx.reference.parameters)
    _ = try dpoSteps(ctx, pairs, steps: 3, lr: 1e-2)
    #expect(changedTensors(projector(), projectorStart).count == 4, "the projector did not train")
    #expect(changedTensors(snapshot(try ctx.reference.parameters), referenceStart).isEmpty)
    #expect(try ctx.reference.logProbs(inputs, context: ctx) == refBefore)
    // The swap puts the trained values back: the policy's projector is the same after a reference pass.
    let trained = projector()
    _ = try ctx.reference.logProbs(inputs, context: ctx)
    #expect(projector() == trained)
}

@Test func precomputedReferenceIsCachedInTheRunFolder() throws {
    let dir = TestPaths.tempDir("dpo-cache")
    let ctx = dpoContext(lora: true, runDir: dir)
    var pairs = dpoPairs(3)
    // Two pairs with the same id but different text are cached separately.
    pairs.append(PreferencePair(id: "p0", image: "img9.jpg", question: "What is it?", chosen: "cup", rejected: "bowl",
                                chosenScore: nil, rejectedScore: nil))
    let (inputs, _) = try ctx.preferenceInputs(pairs)
    let online = try ctx.reference.logProbs(inputs, context: ctx)
    let first = try DPO.precomputeReference(pairs + pairs, ctx, batchSize: 3)
    #expect(first.computed == 4 && first.loaded == 0)
    for (i, p) in pairs.enumerated() {
        let (c, r) = try ctx.reference.cache[DPO.cacheKey(p)]!
        #expect(abs(c - online[i]) < 1e-4 && abs(r - online[4 + i]) < 1e-4, "pair \(i)")
    }
    // A new process with the same weights reads the file instead of recomputing, and the loss uses it.
    let file = dir.appendingPathComponent(DPO.referenceCacheFile)
    var json = try JSONFiles.readJSON(file.path) as! [String: Any]
    var entries = json["pairs"] as! [String: [String: Any]]
    entries[DPO.cacheKey(pairs[1])]!["chosen"] = -123.5
    json["pairs"] = entries
    try AtomicFile.writeJSON(json, to: file)
    let again = dpoContext(lora: true, runDir: dir)
    let second = try DPO.precomputeReference(pairs, again)
    #expect(second.computed == 0 && second.loaded == 4)
    let lp = try withNoGrad { try DPO.logProbs(Array(pairs[0..<2]), again) }
    #expect(lp.refChosen[1] == -123.5)
    // Other weights: the file is not trusted.
    let other = dpoContext(lora: true, seed: 6, runDir: dir)
    #expect(try DPO.precomputeReference(pairs, other).computed == 4)
    // A damaged file is an error that names it.
    try AtomicFile.write("{\"format\": 1, \"reference\": \"x\"}", to: file)
    do {
        _ = try DPO.precomputeReference(pairs, dpoContext(lora: true, runDir: dir))
        Issue.record("a damaged cache was accepted")
    } catch let e as HalluError {
        #expect(e.message.contains(DPO.referenceCacheFile))
    }
}
