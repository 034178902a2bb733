import Foundation

/// One line of `hallu bench --json`.
///
/// JSON keys: `name`, `unit`, `hallu`, `reference`, `reference_name`, `ratio`, `peak_rss_mb`
/// (absent values are written as null), and `mfu` where it applies (training steps and prefill:
/// hallu's model FLOPs per second over the sgemm peak measured in the same run, a fraction).
/// `ratio` is how many times better hallu is: hallu throughput / reference throughput, or
/// reference time / hallu time.
public struct BenchResult: Codable, Sendable, Equatable {
    public var name: String
    public var unit: String
    public var hallu: Double
    public var reference: Double?
    public var referenceName: String?
    public var ratio: Double?
    public var peakRssMB: Double
    /// Model FLOP utilisation of hallu's figure (0...1), where the row measures model work.
    public var mfu: Double?

    public init(name: String, unit: String, hallu: Double, reference: Double? = nil, referenceName: String? = nil,
                ratio: Double? = nil, peakRssMB: Double = BenchResult.currentPeakRSSMB(), mfu: Double? = nil) {
        self.name = name; self.unit = unit; self.hallu = hallu
        self.reference = reference; self.referenceName = referenceName
        self.ratio = ratio ?? reference.flatMap { $0 > 0 ? hallu / $0 : nil }
        self.peakRssMB = peakRssMB
        self.mfu = mfu
    }

    enum CodingKeys: String, CodingKey {
        case name, unit, hallu, reference
        case referenceName = "reference_name"
        case ratio
        case peakRssMB = "peak_rss_mb"
        case mfu
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(unit, forKey: .unit)
        try c.encode(hallu, forKey: .hallu)
        try c.encode(reference, forKey: .reference)
        try c.encode(referenceName, forKey: .referenceName)
        try c.encode(ratio, forKey: .ratio)
        try c.encode(peakRssMB, forKey: .peakRssMB)
        try c.encodeIfPresent(mfu, forKey: .mfu)
    }

    /// The process's peak resident set size so far (VmHWM), in MB; 0 where unavailable.
    public static func currentPeakRSSMB() -> Double {
        procStatusMB("VmHWM")
    }

    /// A `kB` field of /proc/self/status (`VmRSS`, `VmHWM`, ...) in MB; 0 where unavailable.
    static func procStatusMB(_ field: String) -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        return (statusKilobytes(field, in: s) ?? 0) / 1024
    }

    /// The value of `field` in the text of a /proc/<pid>/status file, in kB, or nil if absent.
    /// The kernel separates name and value with a tab and pads short values with spaces
    /// (`VmHWM:\t  123456 kB`, but `VmHWM:\t14450000 kB` from 10 GB on), so any whitespace
    /// separates the fields.
    static func statusKilobytes(_ field: String, in status: String) -> Double? {
        let prefix = field + ":"
        for line in status.split(separator: "\n") where line.hasPrefix(prefix) {
            let fields = line.dropFirst(prefix.count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.first.flatMap { Double($0) }
        }
        return nil
    }
}

/// Throughput of the CPU kernels at the small model's shapes (`hallu bench kernels`).
public enum KernelBench {
    /// Matrix shapes (m, n, k, transA, transB) of the small preset: m = batch·seq from 8·80 to 64·80,
    /// n and k among the hidden, MLP and vocabulary sizes; transposed forms are the backward products.
    static let gemmShapes: [(Int, Int, Int, Bool, Bool)] = [
        (640, 192, 64, false, true),      // qkv projection, batch 8
        (640, 256, 64, false, true),      // MLP up, batch 8
        (640, 64, 256, false, true),      // MLP down, batch 8
        (640, 1000, 64, false, true),     // LM head, batch 8
        (5120, 128, 128, false, true),    // batch 64
        (5120, 512, 128, false, true),
        (5120, 128, 512, false, true),
        (5120, 1000, 128, false, true),
        (5120, 128, 1000, false, false),  // LM head input gradient
        (128, 512, 5120, true, false),    // weight gradient
        (1000, 128, 5120, true, false),   // LM head weight gradient
    ]

    /// Runs every benchmark once (about half a minute on two cores). `quick` shortens each
    /// measurement (for smoke tests).
    public static func run(quick: Bool = false) -> [BenchResult] {
        var out: [BenchResult] = []
        let minTime = quick ? 0.02 : 0.25
        out += gemm(minTime: minTime)
        out += halfDecode(minTime: minTime)
        out += memoryBound(minTime: minTime)
        return out
    }

    // MARK: - timing

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Best seconds per call over a few rounds of at least `minTime / 3` each.
    static func seconds(minTime: Double, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<3 {
            let t0 = now()
            var reps = 0
            repeat { body(); reps += 1 } while now() - t0 < minTime / 3
            best = min(best, (now() - t0) / Double(reps))
        }
        return best
    }

    /// Times `a` and `b` in alternation so that both see the same machine load.
    static func secondsPaired(minTime: Double, _ a: () -> Void, _ b: () -> Void) -> (Double, Double) {
        var ta = Double.infinity, tb = Double.infinity
        for _ in 0..<3 {
            ta = min(ta, seconds(minTime: minTime / 3, a))
            tb = min(tb, seconds(minTime: minTime / 3, b))
        }
        return (ta, tb)
    }

    static func randomBuffer(_ n: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
        for i in 0..<n { p[i] = CounterRNG.uniform(seed: seed, index: UInt64(i)) * 2 - 1 }
        return p
    }

    // MARK: - GEMM

    private static func directOpenBLAS() -> BLAS.CblasSgemm? {
        guard let h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL), let f = dlsym(h, "cblas_sgemm") else { return nil }
        return unsafeBitCast(f, to: BLAS.CblasSgemm.self)
    }

    static func gemm(minTime: Double) -> [BenchResult] {
        var out: [BenchResult] = []
        let direct = directOpenBLAS()
        for (m, n, k, ta, tb) in gemmShapes {
            let a = randomBuffer(m * k, seed: 1), b = randomBuffer(k * n, seed: 2)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
            defer { a.deallocate(); b.deallocate(); c.deallocate() }
            let lda = ta ? m : k, ldb = tb ? k : n
            let flops = 2.0 * Double(m) * Double(n) * Double(k)
            let tag = "\(m)x\(n)x\(k) \(ta ? "t" : "n")\(tb ? "t" : "n")"
            let viaBLAS = {
                BLAS.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb,
                           beta: 0, c: c, ldc: n)
            }
            let builtin = {
                GEMM.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb,
                           beta: 0, c: c, ldc: n)
            }
            if let direct {
                // Direct OpenBLAS with its own threads (hallu keeps it single-threaded and splits products itself).
                let setThreads = BLAS.external?.setThreads
                let threads = Int32(Parallel.threads)
                let call = {
                    setThreads?(threads)
                    direct(BLAS.rowMajor, ta ? BLAS.trans : BLAS.noTrans, tb ? BLAS.trans : BLAS.noTrans,
                           Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(n))
                    setThreads?(1)
                }
                let (tBLAS, tDirect) = secondsPaired(minTime: minTime, viaBLAS, call)
                out.append(BenchResult(name: "gemm \(tag) via BLAS (\(BLAS.backendName))", unit: "GFLOP/s",
                                       hallu: flops / tBLAS / 1e9, reference: flops / tDirect / 1e9,
                                       referenceName: "openblas-direct"))
                let (tBuiltin, tDirect2) = secondsPaired(minTime: minTime, builtin, call)
                out.append(BenchResult(name: "gemm \(tag) builtin", unit: "GFLOP/s", hallu: flops / tBuiltin / 1e9,
                                       reference: flops / tDirect2 / 1e9, referenceName: "openblas-direct"))
            } else {
                let t = seconds(minTime: minTime, builtin)
                out.append(BenchResult(name: "gemm \(tag) builtin", unit: "GFLOP/s", hallu: flops / t / 1e9))
            }
        }
        return out
    }

    /// Decoding-step products with a bfloat16 weight (`HalfGEMM.linear` with 1 and 8 rows, in each
    /// `HalfProducts` mode the CPU has): a 64 MB weight (16,384 x 2,048, TinyLlama's hidden size),
    /// more than the caches hold, as a decoding step streams every layer's weights.
    static func halfDecode(minTime: Double) -> [BenchResult] {
        let (n, k) = (16_384, 2048)
        let w = UnsafeMutablePointer<UInt16>.allocate(capacity: n * k)
        defer { w.deallocate() }
        for i in 0..<(n * k) {
            let f = CounterRNG.uniform(seed: 13, index: UInt64(i)) * 0.2 - 0.1
            w[i] = UInt16(truncatingIfNeeded: f.bitPattern >> 16)
        }
        var out: [BenchResult] = []
        for products in Kernels.hasBF16Dot ? [HalfProducts.widened, .bf16Dot] : [.widened] {
            for m in [1, 8] {
                let a = randomBuffer(m * k, seed: 14), c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
                defer { a.deallocate(); c.deallocate() }
                let t = Kernels.withHalfProducts(products) {
                    seconds(minTime: minTime) {
                        HalfGEMM.linear(m: m, n: n, k: k, a: a, lda: k, w: w, format: .bf16, beta: 0, c: c, ldc: n)
                    }
                }
                out.append(BenchResult(name: "bf16-weight product \(m)x\(n)x\(k), \(products.rawValue) (decoding step)",
                                       unit: "GFLOP/s", hallu: 2 * Double(m * n * k) / t / 1e9))
            }
        }
        return out
    }

    // MARK: - memory-bound kernels

    static func memoryBound(minTime: Double) -> [BenchResult] {
        var out: [BenchResult] = []
        func gbps(_ name: String, bytes: Double, _ body: () -> Void) {
            let t = seconds(minTime: minTime, body)
            out.append(BenchResult(name: name, unit: "GB/s", hallu: bytes / t / 1e9))
        }
        // Activations at the MLP's [batch·seq, intermediate] sizes (read x, write y).
        for (rows, cols) in [(640, 256), (5120, 512)] {
            let n = rows * cols
            let x = randomBuffer(n, seed: 3), y = UnsafeMutablePointer<Float>.allocate(capacity: n)
            let dy = randomBuffer(n, seed: 4)
            defer { x.deallocate(); y.deallocate(); dy.deallocate() }
            for act in [Kernels.Activation.geluTanh, .geluErf, .silu] {
                gbps("\(act.rawValue) forward \(rows)x\(cols)", bytes: Double(n) * 8) {
                    Kernels.activationForward(act, x: x, y: y, count: n)
                }
            }
            gbps("gelu_pytorch_tanh backward \(rows)x\(cols)", bytes: Double(n) * 12) {
                Kernels.activationBackward(.geluTanh, x: x, dy: dy, dx: y, count: n)
            }
            gbps("add \(rows)x\(cols)", bytes: Double(n) * 12) { Kernels.add(x, dy, y, count: n) }
        }
        // Softmax over attention rows ([B·H·T, T]) and vocabulary rows.
        for (rows, cols) in [(64 * 4 * 80, 80), (5120, 1000)] {
            let n = rows * cols
            let x = randomBuffer(n, seed: 5), y = UnsafeMutablePointer<Float>.allocate(capacity: n)
            defer { x.deallocate(); y.deallocate() }
            gbps("softmax forward \(rows)x\(cols)", bytes: Double(n) * 8) {
                Kernels.softmaxForward(x: x, y: y, rows: rows, cols: cols)
            }
        }
        // Norms over [batch·seq, hidden].
        for (rows, cols) in [(640, 128), (5120, 128), (5120, 512)] {
            let n = rows * cols
            let x = randomBuffer(n, seed: 6), y = UnsafeMutablePointer<Float>.allocate(capacity: n)
            let w = randomBuffer(cols, seed: 7), bias = randomBuffer(cols, seed: 8)
            let dx = UnsafeMutablePointer<Float>.allocate(capacity: n), dw = UnsafeMutablePointer<Float>.allocate(capacity: cols)
            let db = UnsafeMutablePointer<Float>.allocate(capacity: cols)
            let mean = UnsafeMutablePointer<Float>.allocate(capacity: rows), rstd = UnsafeMutablePointer<Float>.allocate(capacity: rows)
            defer { for p in [x, y, w, bias, dx, dw, db, mean, rstd] { p.deallocate() } }
            gbps("rmsnorm forward \(rows)x\(cols)", bytes: Double(n) * 8) {
                Kernels.rmsNormForward(x: x, weight: w, y: y, rstd: rstd, rows: rows, cols: cols, eps: 1e-6)
            }
            gbps("rmsnorm backward \(rows)x\(cols)", bytes: Double(n) * 12) {
                Kernels.rmsNormBackward(x: x, weight: w, rstd: rstd, dy: y, dx: dx, dWeight: dw, rows: rows, cols: cols)
            }
            gbps("layernorm forward \(rows)x\(cols)", bytes: Double(n) * 8) {
                Kernels.layerNormForward(x: x, weight: w, bias: bias, y: y, mean: mean, rstd: rstd, rows: rows, cols: cols, eps: 1e-5)
            }
            gbps("layernorm backward \(rows)x\(cols)", bytes: Double(n) * 12) {
                Kernels.layerNormBackward(x: x, weight: w, mean: mean, rstd: rstd, dy: y, dx: dx, dWeight: dw, dBias: db,
                                          rows: rows, cols: cols)
            }
        }
        // Attention at the small preset: B=8 and 64, H=4, T=80, D=32 (bytes: q, k, v, out, P).
        for batch in [8, 64] {
            let s = Kernels.AttentionShape(batch: batch, heads: 4, kvHeads: 4, queryLength: 80, keyLength: 80, headDim: 32)
            let nq = batch * 4 * 80 * 32, np = batch * 4 * 80 * 80
            let q = randomBuffer(nq, seed: 9), k = randomBuffer(nq, seed: 10), v = randomBuffer(nq, seed: 11)
            let o = UnsafeMutablePointer<Float>.allocate(capacity: nq), p = UnsafeMutablePointer<Float>.allocate(capacity: np)
            let dq = UnsafeMutablePointer<Float>.allocate(capacity: nq), dk = UnsafeMutablePointer<Float>.allocate(capacity: nq)
            let dv = UnsafeMutablePointer<Float>.allocate(capacity: nq)
            defer { for b in [q, k, v, o, p, dq, dk, dv] { b.deallocate() } }
            gbps("attention forward causal B\(batch) H4 T80 D32", bytes: Double(4 * nq + np) * 4) {
                try? Kernels.attentionForward(q: q, k: k, v: v, shape: s, causal: true, keyPadding: nil, out: o, probs: p)
            }
            gbps("attention backward B\(batch) H4 T80 D32", bytes: Double(7 * nq + np) * 4) {
                try? Kernels.attentionBackward(dOut: o, probs: p, q: q, k: k, v: v, shape: s, dq: dq, dk: dk, dv: dv)
            }
        }
        // Fused cross-entropy forward + backward over [batch·seq, vocab].
        do {
            let (rows, vocab) = (5120, 1000)
            let x = randomBuffer(rows * vocab, seed: 12), d = UnsafeMutablePointer<Float>.allocate(capacity: rows * vocab)
            let t = UnsafeMutablePointer<Int32>.allocate(capacity: rows)
            let loss = UnsafeMutablePointer<Float>.allocate(capacity: rows), lse = UnsafeMutablePointer<Float>.allocate(capacity: rows)
            let g = UnsafeMutablePointer<Float>.allocate(capacity: rows)
            defer { x.deallocate(); d.deallocate(); t.deallocate(); loss.deallocate(); lse.deallocate(); g.deallocate() }
            for i in 0..<rows { t[i] = Int32(i % vocab); g[i] = 1 / Float(rows) }
            gbps("cross-entropy forward+backward \(rows)x\(vocab)", bytes: Double(rows * vocab) * 12) {
                _ = try? Kernels.crossEntropyForward(logits: x, rows: rows, vocab: vocab, targets: t, loss: loss, lse: lse)
                Kernels.crossEntropyBackward(logits: x, rows: rows, vocab: vocab, targets: t, lse: lse, gradScale: g, dLogits: d)
            }
        }
        return out
    }
}
