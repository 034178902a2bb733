import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// One case of Tests/Fixtures/dpo/dpo_goldens.json (scripts/gen_dpo_goldens.py, PyTorch autograd).
struct DPOGoldenCase {
    let raw: [String: Any]
    var name: String { raw["name"] as! String }
    func floats(_ k: String) -> [Float] { (raw[k] as! [NSNumber]).map(\.floatValue) }
    func doubles(_ k: String) -> [Double] { (raw[k] as! [NSNumber]).map(\.doubleValue) }
    func optionalFloats(_ k: String) -> [Float]? { (raw[k] as? [NSNumber])?.map(\.floatValue) }
    func number(_ k: String) -> Float { (raw[k] as! NSNumber).floatValue }
    var metrics: [String: Double] { (raw["metrics"] as! [String: NSNumber]).mapValues(\.doubleValue) }

    static func all() throws -> [DPOGoldenCase] {
        let root = try JSONFiles.readJSON(TestPaths.fixtures.appendingPathComponent("dpo/dpo_goldens.json").path) as! [String: Any]
        return (root["cases"] as! [[String: Any]]).map(DPOGoldenCase.init)
    }
}

func close(_ a: Double, _ b: Double, rel: Double = 2e-5, abs: Double = 2e-6) -> Bool {
    Swift.abs(a - b) <= Swift.max(abs, rel * Swift.max(Swift.abs(a), Swift.abs(b)))
}

/// The case's loss through `DPO.loss`.
func goldenLoss(_ c: DPOGoldenCase, _ lp: DPO.LogProbs) throws -> LossOutput {
    try DPO.loss(lp, beta: c.number("beta"), chosenWeights: c.optionalFloats("chosen_weights"),
                 rejectedWeights: c.optionalFloats("rejected_weights"), labelSmoothing: c.number("label_smoothing"), gamma: c.number("gamma"))
}

@Test func dpoLossMatchesPyTorchOnLogProbs() throws {
    let cases = try DPOGoldenCase.all().filter { $0.raw["kind"] as? String == "logps" }
    #expect(cases.count == 6)
    for c in cases {
        let b = c.floats("policy_chosen").count
        let pc = try Tensor(c.floats("policy_chosen"), shape: [b], requiresGrad: true)
        let pr = try Tensor(c.floats("policy_rejected"), shape: [b], requiresGrad: true)
        let lp = DPO.LogProbs(policyChosen: pc, policyRejected: pr, refChosen: c.floats("ref_chosen"), refRejected: c.floats("ref_rejected"))
        let out = try goldenLoss(c, lp)
        #expect(close(Double(out.loss.item), c.raw["loss"] as! Double), "\(c.name): loss \(out.loss.item)")
        for (k, v) in c.metrics { #expect(close(out.metrics[k]!, v, rel: 1e-5, abs: 1e-5), "\(c.name): \(k) \(out.metrics[k]!) vs \(v)") }
        try out.loss.backward()
        for (t, key) in [(pc, "grad_policy_chosen"), (pr, "grad_policy_rejected")] {
            for (g, want) in zip(t.grad!.values, c.doubles(key)) { #expect(close(Double(g), want, rel: 1e-4, abs: 1e-7), "\(c.name): \(key) \(g) vs \(want)") }
        }
    }
}

@Test func dpoLossMatchesPyTorchFromLogits() throws {
    let cases = try DPOGoldenCase.all().filter { $0.raw["kind"] as? String == "logits" }
    #expect(cases.count == 3)
    for c in cases {
        let v = (c.raw["vocab"] as! NSNumber).intValue
        let targets = (c.raw["targets"] as! [NSNumber]).map(\.intValue)
        let seqOfRow = (c.raw["sequence_of_row"] as! [NSNumber]).map(\.intValue)
        let b = c.floats("ref_chosen").count
        let logits = try Tensor(c.floats("logits"), shape: [targets.count, v], requiresGrad: true)
        let seq = try DPO.sequenceLogProbs(logits: logits, targets: targets, sequenceOfRow: seqOfRow, sequences: 2 * b)
        for (got, want) in zip(seq.values, c.doubles("sequence_logps")) { #expect(close(Double(got), want, rel: 1e-5), "\(c.name): sequence log-prob") }
        let sft = try DPO.chosenSFT(logits: logits, targets: targets, sequenceOfRow: seqOfRow, chosen: b, objective: CrossEntropyObjective())
        #expect(sft.tokens == seqOfRow.filter { $0 < b }.count)
        let lp = DPO.LogProbs(policyChosen: try seq.slice(axis: 0, 0..<b), policyRejected: try seq.slice(axis: 0, b..<(2 * b)),
                              refChosen: c.floats("ref_chosen"), refRejected: c.floats("ref_rejected"), chosenSFT: sft.loss, chosenTokens: sft.tokens)
        let out = try goldenLoss(c, lp)
        #expect(close(Double(out.loss.item), c.raw["loss"] as! Double), "\(c.name): loss \(out.loss.item)")
        for (k, want) in c.metrics where out.metrics[k] != nil || c.number("gamma") > 0 {
            #expect(close(out.metrics[k]!, want, rel: 1e-5, abs: 1e-5), "\(c.name): \(k) \(out.metrics[k]!) vs \(want)")
        }
        try out.loss.backward()
        for (g, want) in zip(logits.grad!.values, c.doubles("grad_logits")) { #expect(close(Double(g), want, rel: 1e-4, abs: 1e-7), "\(c.name): d loss / d logits \(g) vs \(want)") }
    }
}

/// The closed form, in Double: `dL/dpi_c = -beta w_c [(1-eps) sigmoid(-beta h) - eps sigmoid(beta h)] / B`
/// and `dL/dpi_r = -(w_r / w_c)` times that.
@Test func dpoLossAndGradientsEqualTheFormula() throws {
    func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
    let pc: [Float] = [-12.5, -30.25, -7, -41], pr: [Float] = [-14, -29.5, -20, -38.75]
    let rc: [Float] = [-13, -31, -8.5, -40], rr: [Float] = [-13.5, -30, -18, -40]
    let wr: [Float] = [1, 0.5, 2, 0.25], wc: [Float] = [1, 1, 0.75, 1.5]
    for (beta, eps, weighted) in [(Float(0.1), Float(0), false), (0.5, 0.2, false), (0.1, 0, true), (2.0, 0, true)] {
        let tc = try Tensor(pc, shape: [4], requiresGrad: true), tr = try Tensor(pr, shape: [4], requiresGrad: true)
        let lp = DPO.LogProbs(policyChosen: tc, policyRejected: tr, refChosen: rc, refRejected: rr)
        let out = weighted ? try DPO.loss(lp, beta: beta, chosenWeights: wc, rejectedWeights: wr)
                           : try DPO.loss(lp, beta: beta, labelSmoothing: eps)
        try out.loss.backward()
        var loss = 0.0
        for i in 0..<4 {
            let (a, c) = weighted ? (Double(wc[i]), Double(wr[i])) : (1, 1)
            let h = a * Double(pc[i] - rc[i]) - c * Double(pr[i] - rr[i])
            let bh = Double(beta) * h, e = Double(eps)
            loss += (-(1 - e) * log(sigmoid(bh)) - e * log(sigmoid(-bh))) / 4
            let dh = -Double(beta) * ((1 - e) * sigmoid(-bh) - e * sigmoid(bh)) / 4
            #expect(close(Double(tc.grad!.data[i]), a * dh, rel: 1e-5, abs: 1e-8), "beta \(beta) pair \(i) chosen")
            #expect(close(Double(tr.grad!.data[i]), -c * dh, rel: 1e-5, abs: 1e-8), "beta \(beta) pair \(i) rejected")
        }
        #expect(close(Double(out.loss.item), loss, rel: 1e-6), "beta \(beta): \(out.loss.item) vs \(loss)")
    }
}

@Test func dpoGradientsPassFiniteDifferences() throws {
    let rc: [Float] = [-13, -31, -8.5], rr: [Float] = [-13.5, -30, -18]
    var rng = SeededRNG(seed: 21)
    let pc = Tensor.uniform([3], low: -35, high: -5, rng: &rng, requiresGrad: true)
    let pr = Tensor.uniform([3], low: -35, high: -5, rng: &rng, requiresGrad: true)
    let checks: [(String, ([Tensor]) throws -> Tensor)] = [
        ("dpo", { t in try DPO.loss(DPO.LogProbs(policyChosen: t[0], policyRejected: t[1], refChosen: rc, refRejected: rr), beta: 0.3).loss }),
        ("dpo eps 0.15", { t in try DPO.loss(DPO.LogProbs(policyChosen: t[0], policyRejected: t[1], refChosen: rc, refRejected: rr), beta: 0.3, labelSmoothing: 0.15).loss }),
        ("weighted dpo", { t in try DPO.loss(DPO.LogProbs(policyChosen: t[0], policyRejected: t[1], refChosen: rc, refRejected: rr), beta: 0.3,
                                               chosenWeights: [1, 0.5, 1.25], rejectedWeights: [0.2, 1, 3]).loss }),
    ]
    for (name, f) in checks {
        let r = try GradCheck.check([pc, pr], eps: 1e-2, f)
        #expect(r.passes(1e-2), "\(name): \(r)")
    }
    // The whole chain from logits, with the SFT term on the chosen rows.
    let logits = Tensor.uniform([7, 6], low: -2, high: 2, rng: &rng, requiresGrad: true)
    let targets = [1, 4, 0, 5, 2, 3, 3], seqOfRow = [0, 0, 1, 2, 2, 3, 3]
    let r = try GradCheck.check([logits], eps: 1e-2) { t in
        let seq = try DPO.sequenceLogProbs(logits: t[0], targets: targets, sequenceOfRow: seqOfRow, sequences: 4)
        let sft = try DPO.chosenSFT(logits: t[0], targets: targets, sequenceOfRow: seqOfRow, chosen: 2, objective: CrossEntropyObjective())
        let lp = DPO.LogProbs(policyChosen: try seq.slice(axis: 0, 0..<2), policyRejected: try seq.slice(axis: 0, 2..<4),
                              refChosen: [-3, -2], refRejected: [-4, -3.5], chosenSFT: sft.loss, chosenTokens: sft.tokens)
        return try DPO.loss(lp, beta: 0.5, chosenWeights: [1, 1], rejectedWeights: [0.5, 2], gamma: 0.7).loss
    }
    #expect(r.passes(1e-2), "logits chain: \(r)")
}

@Test func unitWeightsGiveExactlyTheUnweightedLoss() throws {
    var rng = SeededRNG(seed: 8)
    let pcv = Tensor.uniform([5], low: -40, high: -3, rng: &rng).values, prv = Tensor.uniform([5], low: -40, high: -3, rng: &rng).values
    let rc = Tensor.uniform([5], low: -40, high: -3, rng: &rng).values, rr = Tensor.uniform([5], low: -40, high: -3, rng: &rng).values
    let ones = [Float](repeating: 1, count: 5)
    var results: [(Float, [Float], [Float])] = []
    for weighted in [false, true] {
        let pc = try Tensor(pcv, shape: [5], requiresGrad: true), pr = try Tensor(prv, shape: [5], requiresGrad: true)
        let lp = DPO.LogProbs(policyChosen: pc, policyRejected: pr, refChosen: rc, refRejected: rr)
        let out = weighted ? try DPO.loss(lp, beta: 0.1, chosenWeights: ones, rejectedWeights: ones) : try DPO.loss(lp, beta: 0.1)
        try out.loss.backward()
        results.append((out.loss.item, pc.grad!.values, pr.grad!.values))
    }
    #expect(results[0].0 == results[1].0)
    #expect(results[0].1 == results[1].1)
    #expect(results[0].2 == results[1].2)
}

@Test func dpoLossRejectsInconsistentInputs() throws {
    let lp = DPO.LogProbs(policyChosen: Tensor([-1, -2]), policyRejected: Tensor([-3, -4]), refChosen: [-1, -2], refRejected: [-3, -4])
    #expect(throws: HalluError.self) { try DPO.loss(lp, beta: 0.1, chosenWeights: [1], rejectedWeights: [1, 1]) }
    let short = DPO.LogProbs(policyChosen: Tensor([-1, -2]), policyRejected: Tensor([-3]), refChosen: [-1, -2], refRejected: [-3, -4])
    #expect(throws: HalluError.self) { try DPO.loss(short, beta: 0.1) }
    // gamma > 0 needs the SFT term computed with the log-probs.
    #expect(throws: HalluError.self) { try DPO.loss(lp, beta: 0.1, gamma: 0.5) }
    let ctx = dpoContext(lora: true)
    #expect(throws: HalluError.self) { try DPO.logProbs([], ctx) }
}

@Test func dpoSettingsParseDefaultsAndRejectBadValues() throws {
    let defaults = try OptionValues.resolve(DPOSettings.options(labelSmoothing: true), overrides: [:], method: "ha-dpo")
    let s = try DPOSettings(defaults, method: "ha-dpo")
    #expect(s.beta == 0.1 && s.gamma == 0.5 && s.labelSmoothing == 0 && s.precomputeReference == false)
    #expect(settingsNotRefused([("beta", "0"), ("beta", "-1"), ("beta", "x"), ("gamma", "-0.1"), ("gamma", "nan"),
                                ("label_smoothing", "0.5"), ("label_smoothing", "-0.1"), ("precompute_reference", "maybe")],
                               over: defaults, method: "ha-dpo") { _ = try DPOSettings($0, method: "ha-dpo") } == [])
}
