import Foundation
import Synchronization
internal import CBF16

/// How products with bfloat16 weights treat their float32 activations (`eval model`,
/// `generate`: `--half-products`).
public enum HalfProducts: String, Sendable, CaseIterable {
    /// The weights are widened to float32 and multiplied with float32 activations: the float32
    /// results of the stored weights on every CPU (up to float32 rounding: the order of the sums
    /// follows each CPU's kernels).
    case widened
    /// The activations are rounded to bfloat16 and multiplied with the CPU's bfloat16 dot product
    /// (AVX-512 BF16), accumulating in float32, as a bfloat16 model computes in transformers: twice
    /// the multiply-adds per instruction, in prefill and decoding steps alike. Needs
    /// `Kernels.hasBF16Dot`; elsewhere products stay `widened`.
    case bf16Dot = "bf16-dot"
}

extension Kernels {
    private static let bf16DotOn = Atomic<Bool>(false)

    /// The process's mode for products with bfloat16 weights (default `.widened`).
    public static var halfProducts: HalfProducts {
        get { bf16DotOn.load(ordering: .relaxed) ? .bf16Dot : .widened }
        set { bf16DotOn.store(newValue == .bf16Dot, ordering: .relaxed) }
    }

    /// Whether this CPU has the bfloat16 dot product `.bf16Dot` needs (AVX-512 BF16).
    public static let hasBF16Dot: Bool = hallu_bf16_dot_available() != 0

    /// Whether this CPU has AVX-512 (F, BW), on which widened bfloat16 decoding steps run in C.
    static let hasAVX512: Bool = hallu_avx512_available() != 0

    /// Whether products with bfloat16 weights called from this thread run on the dot product now.
    static var usesBF16Dot: Bool {
        guard hasBF16Dot else { return false }
        if let mode = threadMode.value { return mode == 2 }
        return bf16DotOn.load(ordering: .relaxed)
    }

    /// Runs `body` with products called from this thread in `mode`, whatever the process's mode
    /// (other threads are unaffected): lets one test run a model both ways beside others.
    static func withHalfProducts<R>(_ mode: HalfProducts, _ body: () throws -> R) rethrows -> R {
        try threadMode.with(mode == .bf16Dot ? 2 : 1, body)
    }

    private static let threadMode = ThreadSetting()
}

/// `c = bf16(a) · wᵀ + beta · c` on the bfloat16 dot product (Sources/CoreRuntime/CBF16): the
/// activations are rounded to bfloat16 once (rows padded with zeros to the kernel's 12-row
/// tile), then threads take blocks of 128 weight rows. A decoding step (at most
/// `GEMM.skinnyRows` rows) skips the packing: each output is one dot product over the weight as
/// stored. Blocks and the k loop are fixed by the shape, so every element of `c` is computed the
/// same way on any thread count.
enum BF16Dot {
    static let tileRows = 12
    static let blockColumns = 128

    static func linear(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, w: UnsafePointer<UInt16>,
                       beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m <= GEMM.skinnyRows {
            decodingStep(m: m, n: n, k: k, a: a, lda: lda, w: w, beta: beta, c: c, ldc: ldc)
            return
        }
        let rows = (m + tileRows - 1) / tileRows * tileRows, ldr = (k + 1) / 2 * 2
        let rounded = UnsafeMutablePointer<UInt16>.allocate(capacity: rows * ldr)
        defer { rounded.deallocate() }
        (rounded + m * ldr).update(repeating: 0, count: (rows - m) * ldr)
        let threads = max(1, min(Parallel.effectiveThreads, m / tileRows))
        Parallel.run(chunks: threads) { part in
            let mine = Parallel.chunk(part, of: threads, count: m)
            if mine.isEmpty { return }
            hallu_bf16_round_rows(a + mine.lowerBound * lda, lda, mine.count, k, rounded + mine.lowerBound * ldr, ldr)
        }
        let blocks = (n + blockColumns - 1) / blockColumns
        let t = max(1, min(Parallel.effectiveThreads, blocks))
        Parallel.run(chunks: t) { part in
            let mine = Parallel.chunk(part, of: t, count: blocks)
            if mine.isEmpty { return }
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: hallu_bf16_gemm_scratch_words() * 4, alignment: 64)
                .bindMemory(to: UInt32.self, capacity: hallu_bf16_gemm_scratch_words())
            defer { scratch.deallocate() }
            let j0 = mine.lowerBound * blockColumns, j1 = min(n, mine.upperBound * blockColumns)
            hallu_bf16_gemm(m, j1 - j0, k, rounded, ldr, w + j0 * k, k, beta, c + j0, ldc, scratch)
        }
    }

    /// The few rows of a decoding step: rounded once, then each output is one dot product over
    /// the weight read in place (columns split across threads as `GEMM.skinny` splits them).
    private static func decodingStep(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, w: UnsafePointer<UInt16>,
                                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let ldr = (k + 1) / 2 * 2
        let rounded = UnsafeMutablePointer<UInt16>.allocate(capacity: m * ldr)
        defer { rounded.deallocate() }
        hallu_bf16_round_rows(a, lda, m, k, rounded, ldr)
        GEMM.skinnyColumns(m: m, n: n, k: k) { cols in
            hallu_bf16_gemv(m, cols.count, k, rounded, ldr, w + cols.lowerBound * k, k, beta, c + cols.lowerBound, ldc)
        }
    }

    /// Rounds `k` values to bfloat16 as `linear` rounds each row of activations (nearest even;
    /// after an odd k, a zero). `dst` holds k rounded up to even.
    static func roundRow(_ a: UnsafePointer<Float>, k: Int, into dst: UnsafeMutablePointer<UInt16>) {
        hallu_bf16_round_rows(a, k, 1, k, dst, (k + 1) / 2 * 2)
    }
}
