import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// 16-bit weights: bfloat16 and float16 checkpoints kept 16-bit and widened inside the matrix
/// products, against transformers (`scripts/gen_half_goldens.py`): logits of the same weights in
/// float32 to float32 rounding, logits of transformers' own 16-bit run within that format's
/// tolerance, greedy ids.

struct HalfGolden {
    let name: String
    let model: LlavaModel
    let json: [String: Any]
    let tensors: [String: HostArray]

    static let names = ["bf16_layer_minus2_default", "bf16_layer_minus1_full_tied", "f16_layer_minus2_default"]

    static func load(_ name: String, precision: WeightPrecision = .stored) throws -> HalfGolden {
        let dir = TestPaths.fixtures.appendingPathComponent("half/\(name)")
        let model = try LlavaModel.load(dir.appendingPathComponent("model"), precision: precision)
        let data = try Data(contentsOf: dir.appendingPathComponent("golden.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return HalfGolden(name: name, model: model, json: json,
                          tensors: try SafeTensors.read(dir.appendingPathComponent("golden.safetensors").path))
    }

    func tensor(_ key: String) throws -> Tensor { try Tensor(try #require(tensors[key], "\(name): \(key)")) }
    var lengths: [Int] { json["lengths"] as! [Int] }

    func logits() throws -> Tensor {
        try withNoGrad { try model.logits(LlavaInputs(ids: json["ids"] as! [[Int]], pixels: try tensor("pixels"))) }
    }
}

@Test(arguments: HalfGolden.names)
func halfWeightsStaySixteenBitAndMatchTransformers(_ name: String) throws {
    let g = try HalfGolden.load(name)
    let format: StorageFormat = name.hasPrefix("bf16") ? .bf16 : .f16
    // Every linear weight is held 16-bit (two bytes each), the norms as float32.
    for (path, m) in g.model.namedModules() {
        if let lin = m as? Linear {
            #expect(lin.weight.storage.halfElements != nil && lin.weight.storage.format == format, "\(path)")
        }
    }
    let logits = try g.logits()
    let wide = realPositionsMaxDiff(logits, try g.tensor("logits_wide"), lengths: g.lengths)
    let native = realPositionsMaxDiff(logits, try g.tensor("logits_native"), lengths: g.lengths)
    let scale = Float(try #require(g.json["logits_abs_max"] as? Double))
    print("half parity \(name): vs float32 compute \(wide), vs transformers' \(format.rawValue) run \(native) (|logits| max \(scale))")
    #expect(wide <= 1e-4, "\(name): logits differ from the widened weights' by \(wide)")
    // transformers rounds every activation to 16 bits; hallu keeps them float32.
    let tolerance: Float = format == .bf16 ? 0.05 : 0.01
    #expect(native <= tolerance * scale, "\(name): logits differ from transformers' 16-bit run by \(native)")
}

@Test(arguments: HalfGolden.names)
func halfWeightsGreedyIdsMatchTransformers(_ name: String) throws {
    let g = try HalfGolden.load(name)
    let greedy = try #require(g.json["greedy"] as? [String: Any])
    let prompts = greedy["prompts"] as! [[Int]]
    var cfg = GenerationConfig()
    cfg.maxNewTokens = greedy["max_new_tokens"] as! Int
    cfg.eosTokenId = greedy["eos"] as? Int
    let ids = try Generator(model: g.model).generate(LlavaInputs(ids: prompts, pixels: try g.tensor("pixels")), cfg)
    #expect(ids == greedy["ids_wide"] as! [[Int]], "\(name)")
    // transformers' own 16-bit run agrees with its float32 run on these configurations except
    // the tied one, where rounding every activation to bfloat16 flips a token of the second prompt.
    if greedy["native_agrees"] as? Bool == true { #expect(ids == greedy["ids_native"] as! [[Int]], "\(name)") }
}

@Test func halfWeightsWidenOnceWhenReadAsFloat() throws {
    let g = try HalfGolden.load("bf16_layer_minus2_default")
    let before = try g.logits()
    // Reading a 16-bit weight as float32 makes a float32 copy that every later product uses,
    // so an in-place update (an optimiser step) is seen.
    let lin = try #require(g.model.namedModules().compactMap { $0.1 as? Linear }.first)
    _ = lin.weight.data
    #expect(lin.weight.storage.halfElements == nil && lin.weight.storage.format == .bf16)
    let after = try g.logits()
    #expect(realPositionsMaxDiff(before, after, lengths: g.lengths) <= 1e-5)
    // The float32 load of the same checkpoint computes the same logits.
    let f32 = try HalfGolden.load("bf16_layer_minus2_default", precision: .float32)
    let sixteenBit = f32.model.namedModules().compactMap { ($0.1 as? Linear)?.weight.storage.halfElements }
    #expect(sixteenBit.isEmpty)
    #expect(realPositionsMaxDiff(before, try f32.logits(), lengths: g.lengths) <= 1e-5)
}

@Test func halfGEMMMatchesTheFloatProductOfTheWidenedWeight() throws {
    var rng = SeededRNG(seed: 5)
    for format in [StorageFormat.bf16, .f16] {
        for (m, n, k) in [(1, 7, 5), (2, 33, 64), (3, 70, 129), (8, 64, 300), (9, 40, 17), (40, 300, 72), (130, 513, 96)] {
            let a = Tensor.uniform([m, k], low: -1, high: 1, rng: &rng)
            var bits = [UInt16](repeating: 0, count: n * k)
            for i in bits.indices {
                let x = rng.nextFloat() * 2 - 1
                bits[i] = format == .bf16 ? HalfPrecision.bfloat16(from: x) : HalfPrecision.half(from: x)
            }
            let widened = Tensor(uninitializedShape: [n, k])
            bits.withUnsafeBufferPointer { HalfPrecisionKernels.widen($0.baseAddress!, format: format, count: n * k, into: widened.data) }
            for i in 0..<(n * k) {
                let exact = format == .bf16 ? HalfPrecision.float(fromBFloat16: bits[i]) : HalfPrecision.float(fromHalf: bits[i])
                #expect(widened.data[i] == exact)
            }
            for beta: Float in [0, 1] {
                let c = Tensor.uniform([m, n], low: -1, high: 1, rng: &rng), ref = c.copy()
                bits.withUnsafeBufferPointer {
                    HalfGEMM.linear(m: m, n: n, k: k, a: a.data, lda: k, w: $0.baseAddress!, format: format, beta: beta, c: c.data, ldc: n)
                }
                BLAS.sgemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a.data, lda: k, b: widened.data, ldb: k,
                           beta: beta, c: ref.data, ldc: n)
                let diff = zip(c.values, ref.values).map { abs($0 - $1) }.max() ?? 0
                #expect(diff <= 1e-4 * Float(k).squareRoot(), "\(format) \(m)x\(n)x\(k) beta \(beta): \(diff)")
            }
        }
    }
}

/// Decoding-step products with a bfloat16 weight take the AVX-512 kernel where the CPU has it and
/// the portable one elsewhere: both agree with the float32 product of the widened weight, on
/// sizes off the 4x4 tile and the 32-element step, and give the same bytes on any thread count.
@Test func bf16DecodingProductsAgreeOnBothKernels() throws {
    var rng = SeededRNG(seed: 9)
    for (m, n, k) in [(1, 5, 31), (4, 37, 64), (7, 70, 1027), (8, 129, 2048)] {
        let a = Tensor.uniform([m, k], low: -1, high: 1, rng: &rng)
        let bits = (0..<(n * k)).map { _ in HalfPrecision.bfloat16(from: rng.nextFloat() * 2 - 1) }
        let widened = Tensor(uninitializedShape: [n, k])
        bits.withUnsafeBufferPointer { HalfPrecisionKernels.widen($0.baseAddress!, format: .bf16, count: n * k, into: widened.data) }
        let c0 = Tensor.uniform([m, n], low: -1, high: 1, rng: &rng)
        for beta: Float in [0, 1] {
            let ref = c0.copy()
            BLAS.sgemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a.data, lda: k, b: widened.data, ldb: k,
                       beta: beta, c: ref.data, ldc: n)
            for avx512 in Kernels.hasAVX512 ? [false, true] : [false] {
                func run() -> [Float] {
                    let c = c0.copy()
                    bits.withUnsafeBufferPointer {
                        HalfGEMM.skinny(m: m, n: n, k: k, a: a.data, lda: k, w: $0.baseAddress!, format: .bf16, beta: beta,
                                        c: c.data, ldc: n, avx512: avx512)
                    }
                    return c.values
                }
                let all = run()
                let diff = zip(all, ref.values).map { abs($0 - $1) }.max() ?? 0
                #expect(diff <= 1e-4 * Float(k).squareRoot(), "avx512 \(avx512) \(m)x\(n)x\(k) beta \(beta): \(diff)")
                #expect(Parallel.withThreadLimit(1) { run() } == all, "avx512 \(avx512) \(m)x\(n)x\(k): thread count")
            }
        }
    }
}

@Test func mappedFloatWeightsAreCopyOnWrite() throws {
    // A float32 checkpoint is used in place from its memory mapping; updating a weight (as an
    // optimiser does) changes this process's copy only, never the file.
    let dir = TestPaths.fixtures.appendingPathComponent("llava/layer_minus2_default/model")
    let model = try LlavaModel.load(dir)
    let (name, w) = try #require(model.namedParameters().first { $0.0.hasSuffix("q_proj.weight") })
    let original = w.values
    try w.assign([Float](repeating: 0.5, count: w.count))
    #expect(w.values.allSatisfy { $0 == 0.5 })
    let again = try LlavaModel.load(dir)
    let fresh = try #require(again.namedParameters().first { $0.0 == name }).1
    #expect(fresh.values == original)
}

/// The memory check at load counts a 16-bit checkpoint at what loading keeps: the linear layers'
/// and the token embedding's 2 bytes with `.stored`, 4 bytes for everything once widened.
@Test(arguments: HalfGolden.names)
func loadMemoryCheckCountsSixteenBitWeightsAtTwoBytes(_ name: String) throws {
    let dir = TestPaths.fixtures.appendingPathComponent("half/\(name)/model")
    let folder = CheckpointFolder(dir)
    let config = try folder.loadConfig()
    let weights = try folder.openWeights(checkedAgainst: config)
    let model = try LlavaModel.load(dir, precision: .stored)
    #expect(LlavaModel.residentBytes(weights, precision: .float32) == 4 * model.parameterCount)
    // Two-dimensional 16-bit tensors outside the linear layers and the token embedding (the
    // vision tower's position embedding) are widened but counted at 2 bytes.
    let stored = LlavaModel.residentBytes(weights, precision: .stored)
    let widened = model.namedParameters().filter { $0.1.shape.count == 2 && $0.1.storage.halfElements == nil }
        .reduce(0) { $0 + 2 * $1.1.count }
    #expect(stored + widened == model.parameterBytes, "\(name)")
    #expect(stored < 3 * model.parameterCount)
}
