import CoreRuntime
import Foundation

/// VCD, visual contrastive decoding (Leng et al., "Mitigating Object Hallucinations in Large
/// Vision-Language Models through Visual Contrastive Decoding", CVPR 2024), with the rules of the
/// authors' sampler (vcd_utils/vcd_sample.py, its "version 2"):
///
///     l_cd  = logits of the same prompt with the image noised to diffusion step `noise_step`
///     cut   = log(beta) + max_v l                       (adaptive plausibility constraint)
///     out_v = (1 + alpha) l_v - alpha l_cd_v   if l_v >= cut,  -inf otherwise
///
/// The noised stream runs in the same batched forward pass as the clean one, with its own part of
/// the key/value cache. The authors define VCD for sampling only; here the contrasted logits also
/// drive greedy decoding (argmax) and beam search (log-softmax of them), because the rule only
/// rewrites each step's scores. Defaults are the authors' LLaVA POPE script: alpha 1, beta 0.2
/// (their sampler falls back to 0.1 when none is given), noise step 500.
public final class VCDMethod: DecodingMethod {
    public init() {}
    public var id: String { "vcd" }
    public var summary: String { "VCD: contrast the logits with those of a diffusion-noised image (alpha 1, beta 0.2, noise step 500); two passes in one batch" }
    public var options: [MethodOption] {
        [MethodOption("alpha", "1", "contrast strength: (1+alpha) clean - alpha noised; 0 or more"),
         MethodOption("beta", "0.2", "plausibility cut: keep tokens with logit >= log(beta) + max; in (0, 1]"),
         MethodOption("noise_step", "500", "diffusion step of the noised image, 0-999 of a 1000-step sigmoid schedule"),
         MethodOption("noise_seed", "0", "seed of the Gaussian noise (each image's noise also depends on its pixels)")]
    }
    public private(set) var alpha: Float = 1
    public private(set) var beta: Float = 0.2
    public private(set) var noiseStep = 500
    public private(set) var noiseSeed: UInt64 = 0

    public func configure(_ values: [String: String]) throws {
        let v = OptionValues(method: id, values: try OptionValues.resolve(options, overrides: values, method: id))
        alpha = try v.float("alpha", atLeast: 0)
        beta = try v.float("beta", above: 0, atMost: 1)
        noiseStep = try v.int("noise_step", in: 0...(VCDNoise.steps - 1))
        guard let seed = UInt64(v.string("noise_seed")!) else {
            throw HalluError("vcd.noise_seed: expected a non-negative integer, got \"\(v.string("noise_seed")!)\"")
        }
        noiseSeed = seed
    }

    public func begin(_ context: DecodingContext) throws -> DecodingNeeds {
        let (step, seed) = (noiseStep, noiseSeed)
        return DecodingNeeds(streams: [DecodingStream(name: "noised image") { inputs in
            LlavaInputs(ids: inputs.ids, pixels: try inputs.pixels.map { try VCDNoise.noised($0, step: step, seed: seed) })
        }])
    }

    public func adjust(_ step: DecodingStep) throws {
        let noised = try step.streamLogits(0)
        let v = step.vocabSize
        let logBeta = Foundation.log(beta), a1 = 1 + alpha
        for r in 0..<step.rows {
            let row = step.row(r)
            let cd = noised.data + r * v
            var m = -Float.infinity
            for j in 0..<v where row[j] > m { m = row[j] }
            let cut = logBeta + m
            for j in 0..<v { row[j] = row[j] < cut ? -.infinity : a1 * row[j] - alpha * cd[j] }
        }
    }
}

/// The forward diffusion process VCD noises images with (vcd_utils/vcd_add_noise.py): 1000 steps,
/// beta_t = sigmoid(linspace(-6, 6)) * (0.5e-2 - 1e-5) + 1e-5, and
/// x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps on the normalised pixels.
public enum VCDNoise {
    public static let steps = 1000

    /// `sqrt(alpha_bar_t)` and `sqrt(1 - alpha_bar_t)` at step t, in float32 as torch computes them
    /// (the cumulative product accumulated in double).
    public static func coefficients(step t: Int) -> (signal: Float, noise: Float) {
        let n = steps
        var prod = 1.0
        var out: Float = 1
        let delta = Float(12) / Float(n - 1)
        for i in 0...t {
            // torch.linspace fills the first half from the start and the second from the end.
            let x: Float = i < n / 2 ? -6 + delta * Float(i) : 6 - delta * Float(n - 1 - i)
            let sig = 1 / (1 + Foundation.exp(-x))
            let b = sig * (Float(0.5e-2) - Float(1e-5)) + Float(1e-5)
            prod *= Double(1 - b)
            out = Float(prod)
        }
        return (out.squareRoot(), (1 - out).squareRoot())
    }

    /// Noises every image of `[B, C, H, W]` pixels at step t. Each image's Gaussian draws come from
    /// a generator seeded with `seed` and a hash of that image's pixels, so an image gets the same
    /// noise whatever batch it is in.
    public static func noised(_ pixels: Tensor, step t: Int, seed: UInt64) throws -> Tensor {
        guard pixels.rank == 4 else { throw HalluError("vcd: expected pixels [B, C, H, W], got \(pixels.shape)") }
        let (signal, noise) = coefficients(step: t)
        let out = Tensor(uninitializedShape: pixels.shape)
        let per = pixels.count / max(pixels.shape[0], 1)
        for b in 0..<pixels.shape[0] {
            let src = pixels.data + b * per, dst = out.data + b * per
            var rng = SeededRNG(seed: imageSeed(src, count: per, seed: seed))
            for i in 0..<per { dst[i] = signal * src[i] + noise * rng.nextNormal() }
        }
        return out
    }

    /// FNV-1a over the image's float32 bytes (little-endian), starting from the seed.
    public static func imageSeed(_ p: UnsafePointer<Float>, count: Int, seed: UInt64) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for i in 0..<count {
            var bits = p[i].bitPattern
            for _ in 0..<4 { h = (h ^ UInt64(bits & 0xff)) &* 0x0000_0100_0000_01b3; bits >>= 8 }
        }
        return h
    }
}

/// What the library hands to hallu (see Entry/).
public enum VCDPlugin {
    public static var plugin: HalluPlugin {
        let m = VCDMethod()
        return HalluPlugin(name: "VCD", decoders: [DecoderDescriptor(id: m.id, summary: m.summary, make: { VCDMethod() })])
    }
}
