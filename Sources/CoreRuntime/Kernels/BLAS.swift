import Foundation

/// Matrix products through a CBLAS library found at run time, or the built-in kernel.
///
/// Library choice, made once on first use:
/// 1. `HALLU_BLAS`: a path or soname of a library exporting `cblas_sgemm`; the value `builtin`
///    forces the built-in kernel. If it cannot be loaded, a warning goes to stderr (and to
///    `loadWarning`) and the search goes on.
/// 2. `libopenblas.so.0`.
/// 3. The built-in SIMD GEMM (`GEMM`).
///
/// Products with at most `GEMM.skinnyRows` rows (decoding steps) always use the built-in
/// unpacked kernel: a packing library would copy the whole weight for a few rows. Products with a
/// short inner dimension (`builtinMaxK`) and an untransposed A also use the built-in kernel
/// (`usesBuiltin`), which is faster than OpenBLAS there and writes C in one pass.
///
/// A library that lets hallu set its thread count (OpenBLAS) runs single-threaded, and hallu splits
/// each product across its own `Parallel` pool: one set of threads for every kernel, instead of
/// OpenBLAS's spinning workers competing with hallu's for the same cores. A library without that
/// control threads itself. `OPENBLAS_CORETYPE` is left as the environment sets it.
///
/// All matrices are row-major float32. Shapes are trusted: callers validate them.
public enum BLAS {
    typealias CblasSgemm = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float,
                                           UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
                                           Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias SetThreads = @convention(c) (Int32) -> Void
    typealias GetString = @convention(c) () -> UnsafePointer<CChar>?

    static let rowMajor: Int32 = 101, noTrans: Int32 = 111, trans: Int32 = 112

    /// A loaded CBLAS.
    struct External {
        let sgemm: CblasSgemm
        let setThreads: SetThreads?
        let name: String
        let library: String
        let coreName: String?
    }

    private struct Backend {
        let external: External?
        let warning: String?
    }

    private static let backend: Backend = load()

    /// The loaded external CBLAS, if any.
    static var external: External? { backend.external }

    /// What computes matrix products, e.g. `"openblas 0.3.21 (libopenblas.so.0)"` or `"builtin"`.
    public static var backendName: String {
        guard let e = backend.external else { return "builtin" }
        return "\(e.name) (\(e.library))"
    }

    /// OpenBLAS's kernel family (e.g. `"Haswell"`), when the library reports one.
    public static var coreName: String? { backend.external?.coreName }

    /// Why `HALLU_BLAS` was not used, if it was set and failed to load.
    public static var loadWarning: String? { backend.warning }

    /// Whether an external CBLAS is in use.
    public static var isExternal: Bool { backend.external != nil }

    private static func load() -> Backend {
        var warning: String?
        var candidates = ["libopenblas.so.0"]
        if let env = ProcessInfo.processInfo.environment["HALLU_BLAS"]?.trimmingCharacters(in: .whitespaces), !env.isEmpty {
            if env.lowercased() == "builtin" { return Backend(external: nil, warning: nil) }
            candidates.insert(env, at: 0)
        }
        for (i, lib) in candidates.enumerated() {
            if let e = open(lib) {
                e.setThreads?(1)
                return Backend(external: e, warning: warning)
            }
            if i == 0 && candidates.count > 1 {
                let reason = dlerror().map { String(cString: $0) } ?? "no cblas_sgemm symbol"
                warning = "HALLU_BLAS=\(lib) could not be used (\(reason)); falling back"
                FileHandle.standardError.write(Data("hallu: warning: \(warning!)\n".utf8))
            }
        }
        return Backend(external: nil, warning: warning)
    }

    private static func open(_ lib: String) -> External? {
        guard let h = dlopen(lib, RTLD_NOW | RTLD_LOCAL) else { return nil }
        guard let g = dlsym(h, "cblas_sgemm") else { dlclose(h); return nil }
        let set = dlsym(h, "openblas_set_num_threads").map { unsafeBitCast($0, to: SetThreads.self) }
        var name = "cblas"
        var core: String?
        if let c = dlsym(h, "openblas_get_config"), let s = unsafeBitCast(c, to: GetString.self)() {
            // e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"
            let parts = String(cString: s).split(separator: " ")
            name = parts.count >= 2 && parts[0].lowercased() == "openblas" ? "openblas \(parts[1])" : "openblas"
        }
        if let c = dlsym(h, "openblas_get_corename"), let s = unsafeBitCast(c, to: GetString.self)() {
            core = String(cString: s)
        }
        return External(sgemm: unsafeBitCast(g, to: CblasSgemm.self), setThreads: set,
                        name: name, library: lib, coreName: core)
    }

    /// Called by `Parallel.threads` when the thread count changes: a library hallu splits stays
    /// single-threaded, and one that threads itself cannot be told.
    static func threadCountDidChange(_ n: Int) {}

    /// `c = alpha * op(a) * op(b) + beta * c`, with op(a) `m x k`, op(b) `k x n`, c `m x n`.
    ///
    /// `lda`, `ldb`, `ldc` are the row strides of the matrices as stored (before the transpose), as
    /// in CBLAS row-major. With `beta == 0`, `c` is overwritten (NaNs in it are not propagated).
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m <= 0 || n <= 0 { return }
        if !transA && m <= GEMM.skinnyRows && k > 0 {
            GEMM.skinny(transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        if let e = backend.external, k > 0, !usesBuiltin(transA: transA, k: k) {
            guard e.setThreads != nil else {
                e.sgemm(rowMajor, transA ? trans : noTrans, transB ? trans : noTrans, Int32(m), Int32(n), Int32(k),
                        alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
                return
            }
            GEMM.partitioned(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                             threads: nil, rowUnit: 16, columnUnit: 16) { ta, tb, m, n, k, a, lda, b, ldb, c, ldc in
                e.sgemm(rowMajor, ta ? trans : noTrans, tb ? trans : noTrans, Int32(m), Int32(n), Int32(k),
                        alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
            }
        } else {
            GEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                       b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    /// The longest inner dimension for which an external library's product is replaced by the
    /// built-in one. `hallu bench kernels` at the `small` preset's shapes on a 2-core Zen 3 with
    /// OpenBLAS 0.3.21: the built-in kernel leads at k 64-256 (by 10-30%) and is level at k 512;
    /// OpenBLAS leads at k 1000 and in products with a transposed A (weight gradients, whose k is
    /// the number of tokens). Below this k, OpenBLAS also spends a separate pass zeroing C.
    static let builtinMaxK = 512

    /// Whether a product goes to the built-in kernel although an external library is loaded. The
    /// choice depends on the shape alone, so a product is computed the same way on every run.
    @inline(__always)
    static func usesBuiltin(transA: Bool, k: Int) -> Bool { !transA && k <= builtinMaxK }

    /// Products below this many multiply-adds (m*n*k) run on one thread (OpenBLAS also keeps them
    /// single-threaded when it threads itself), so batches of them can run side by side on hallu's
    /// threads.
    static let smallProduct = 1 << 18

    /// A batch of independent products: for `i` in `0..<batch`,
    /// `c + i*strideC = alpha * op(a + i*strideA) * op(b + i*strideB) + beta * (c + i*strideC)`.
    ///
    /// Small products run in parallel across the batch (each single-threaded); large ones run one
    /// after the other, each using every thread. A stride of 0 reuses the same matrix (e.g. one
    /// weight for every batch item); with `strideC == 0` the products are applied to the one C in
    /// batch order.
    public static func sgemmStridedBatched(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                           a: UnsafePointer<Float>, lda: Int, strideA: Int,
                                           b: UnsafePointer<Float>, ldb: Int, strideB: Int,
                                           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int,
                                           batch: Int) {
        if batch <= 0 || m <= 0 || n <= 0 { return }
        let one = { (i: Int) in
            sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                  a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb,
                  beta: beta, c: c + i * strideC, ldc: ldc)
        }
        // A shared output (strideC == 0) is updated in batch order, never concurrently.
        if batch > 1 && strideC != 0 && m * n * max(k, 1) < smallProduct {
            Parallel.forEach(count: batch) { r in for i in r { one(i) } }
        } else {
            for i in 0..<batch { one(i) }
        }
    }

    /// A batch of independent products given by pointer lists (all of the same shape; the `c`
    /// pointers must not overlap, since small products run concurrently).
    public static func sgemmBatched(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                    a: [UnsafePointer<Float>], lda: Int, b: [UnsafePointer<Float>], ldb: Int,
                                    beta: Float, c: [UnsafeMutablePointer<Float>], ldc: Int) {
        let batch = min(a.count, b.count, c.count)
        if batch <= 0 || m <= 0 || n <= 0 { return }
        let one = { (i: Int) in
            sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a[i], lda: lda,
                  b: b[i], ldb: ldb, beta: beta, c: c[i], ldc: ldc)
        }
        if batch > 1 && m * n * max(k, 1) < smallProduct {
            Parallel.forEach(count: batch) { r in for i in r { one(i) } }
        } else {
            for i in 0..<batch { one(i) }
        }
    }

    /// A product that must stay on the calling thread (used inside kernels that are already
    /// parallel, e.g. attention over heads): the external library when it runs single-threaded
    /// (always for one hallu sets to one thread, else for small products), the built-in kernel
    /// otherwise.
    static func sgemmSerial(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m <= 0 || n <= 0 { return }
        if !transA && m <= GEMM.skinnyRows && k > 0 {
            GEMM.skinny(transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
                        threads: 1)
            return
        }
        if let e = backend.external, k > 0, !usesBuiltin(transA: transA, k: k), e.setThreads != nil || m * n * k < smallProduct {
            e.sgemm(rowMajor, transA ? trans : noTrans, transB ? trans : noTrans, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        } else {
            GEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                       b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: 1)
        }
    }
}
