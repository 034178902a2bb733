import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Reads Tests/Fixtures/optim/<name> (written by scripts/gen_optim_goldens.py).
func optimFixture(_ name: String) throws -> [String: Any] {
    let path = TestPaths.fixtures.appendingPathComponent("optim/\(name)").path
    guard let d = try JSONFiles.readJSON(path) as? [String: Any] else { throw HalluError.file(path, "not a JSON object") }
    return d
}

func floats(_ any: Any?) -> [Float] { (any as! [Any]).map { Float(($0 as! NSNumber).doubleValue) } }

/// Largest |a - b| / max(|b|, floor) over two equally long arrays.
func maxRelativeError(_ a: [Float], _ b: [Float], floor: Float = 1e-6) -> Float {
    precondition(a.count == b.count)
    var worst: Float = 0
    for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / max(abs(y), floor)) }
    return worst
}

/// Replays a torch optimiser run from a golden file and returns the worst relative error of parameters
/// (after every step) and of the final state.
private func replay(_ file: String, make: ([ParamGroup], [String: Any]) throws -> any Optimizer)
    throws -> (params: Float, state: Float, bitExact: Int, total: Int) {
    let d = try optimFixture(file)
    let groupSpecs = d["groups"] as! [[String: Any]]
    let initial = d["initial"] as! [[Any]]
    var tensors: [[Tensor]] = []
    var groups: [ParamGroup] = []
    for (g, spec) in groupSpecs.enumerated() {
        let shapes = (spec["shapes"] as! [[Int]])
        let row = try shapes.enumerated().map { i, s in try Tensor(floats(initial[g][i]), shape: s, requiresGrad: true) }
        tensors.append(row)
        groups.append(ParamGroup(name: "g\(g)", params: row, lr: Float(spec["lr"] as! Double),
                                 weightDecay: Float(spec["weight_decay"] as! Double)))
    }
    let opt = try make(groups, d["hyper"] as! [String: Any])
    let scales = floats(d["lr_scales"])
    let grads = d["grads"] as! [[[Any]]]
    let after = d["after"] as! [[[Any]]]
    var worst: Float = 0, exact = 0, total = 0
    for k in 0..<scales.count {
        for (g, row) in tensors.enumerated() {
            for (i, p) in row.enumerated() {
                p.grad = grads[k][g][i] is NSNull ? nil : try Tensor(floats(grads[k][g][i]), shape: p.shape)
            }
        }
        try opt.step(lrScale: scales[k])
        for (g, row) in tensors.enumerated() {
            for (i, p) in row.enumerated() {
                let want = floats(after[k][g][i])
                worst = max(worst, maxRelativeError(p.values, want))
                exact += zip(p.values, want).filter { $0 == $1 }.count
                total += want.count
            }
        }
    }
    #expect(opt.stepCount == scales.count)
    let golden = d["state"] as! [String: Any]
    let mine = opt.stateArrays()
    #expect(Set(mine.keys) == Set(golden.keys).union(["step_count"]), "\(mine.keys.sorted()) vs \(golden.keys.sorted())")
    var stateWorst: Float = 0
    for (name, value) in golden {
        guard let t = mine[name] else { continue }
        let want = value is NSNumber ? [Float((value as! NSNumber).doubleValue)] : floats(value)
        stateWorst = max(stateWorst, maxRelativeError(t.values, want, floor: 1e-12))
    }
    return (worst, stateWorst, exact, total)
}

@Test func adamWMatchesTorch() throws {
    let r = try replay("adamw.json") { groups, hyper in
        let betas = hyper["betas"] as! [Double]
        return try AdamW(groups: groups, beta1: betas[0], beta2: betas[1], eps: hyper["eps"] as! Double)
    }
    print("AdamW vs torch: params max rel \(r.params), state max rel \(r.state), bit-exact \(r.bitExact)/\(r.total)")
    #expect(r.params <= 1e-6)
    #expect(r.state <= 1e-6)
}

@Test(arguments: ["sgd_momentum.json", "sgd_nesterov.json"])
func sgdMatchesTorch(_ file: String) throws {
    let r = try replay(file) { groups, hyper in
        try SGD(groups: groups, momentum: Float(hyper["momentum"] as! Double),
                dampening: Float(hyper["dampening"] as! Double), nesterov: hyper["nesterov"] as! Bool)
    }
    print("SGD \(file) vs torch: params max rel \(r.params), state max rel \(r.state), bit-exact \(r.bitExact)/\(r.total)")
    #expect(r.params <= 1e-6)
    #expect(r.state <= 1e-6)
    // Same fused multiply-adds as torch's CPU kernels and no square root: identical bits.
    #expect(r.bitExact == r.total)
}

@Test func clipGradNormMatchesTorch() throws {
    let cases = try optimFixture("clip.json")["cases"] as! [[String: Any]]
    #expect(cases.count == 3)
    for c in cases {
        let shapes = c["shapes"] as! [[Int]]
        let grads = c["grads"] as! [Any]
        let params = try shapes.enumerated().map { i, s -> Tensor in
            let p = Tensor.zeros(s, requiresGrad: true)
            p.grad = try Tensor(floats(grads[i]), shape: s)
            return p
        }
        let norm = clipGradNorm(params, maxNorm: Float(c["max_norm"] as! Double))
        let wantNorm = Float(c["norm"] as! Double)
        #expect(abs(norm - wantNorm) <= 1e-6 * wantNorm, "norm \(norm) vs \(wantNorm)")
        let clipped = c["clipped"] as! [Any]
        for (i, p) in params.enumerated() {
            #expect(maxRelativeError(p.grad!.values, floats(clipped[i])) <= 1e-6)
        }
    }
}

@Test func schedulesMatchTransformers() throws {
    let d = try optimFixture("schedules.json")
    let rows = d["factors"] as! [[String: Any]]
    let byName: [String: LRSchedule] = ["constant": .constant, "linear": .linear, "cosine": .cosine,
                                        "cosine_min_0.1": .cosine(minRatio: 0.1), "cosine_min_0.25": .cosine(minRatio: 0.25)]
    var exact = 0
    for row in rows {
        let schedule = byName[row["schedule"] as! String]!
        let f = schedule.factor(step: row["step"] as! Int, totalSteps: row["total"] as! Int, warmupSteps: row["warmup"] as! Int)
        let want = Float(row["factor"] as! Double)
        #expect(abs(f - want) <= 1e-7, "\(row): \(f)")
        if f == want { exact += 1 }
    }
    print("schedules vs transformers: \(exact)/\(rows.count) exactly equal as Float")
    #expect(rows.count == 115)
    for w in d["warmup_ratio"] as! [[String: Any]] {
        let ratio = Warmup.ratio(w["ratio"] as! Double)
        #expect(ratio.steps(totalSteps: w["total"] as! Int) == w["steps"] as! Int, "\(w)")
    }
}
