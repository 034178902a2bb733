import Foundation
import Synchronization

/// Splits loops across a persistent pool of worker threads.
///
/// The partition of `0..<count` depends only on `count`, `minChunk` and `threads`, never on which
/// thread runs which chunk, so a kernel that writes each output from one chunk gives the same bytes
/// on every run with the same thread count. Kernels that reduce across chunks (norm weight
/// gradients, column sums) reduce over fixed-size blocks instead, which makes them independent of
/// the thread count as well.
///
/// A call made while the pool is already busy (a kernel nested inside another parallel kernel, or
/// two threads of the host calling at once) runs its chunks inline, in order, on the calling thread.
public enum Parallel {
    /// Number of threads kernels use (the calling thread included). Defaults to the environment
    /// variable `HALLU_THREADS`, else the number of cores the process may run on. Setting it also
    /// sets OpenBLAS's thread count.
    public static var threads: Int {
        get { state.withLock { $0.pool.threadCount } }
        set {
            let n = max(1, min(newValue, 256))
            let old: WorkerPool? = state.withLock { s in
                if s.pool.threadCount == n { return nil }
                let o = s.pool
                s.pool = WorkerPool(threads: n)
                return o
            }
            old?.shutdown()
            BLAS.threadCountDidChange(n)
        }
    }

    /// The thread count from the environment (`HALLU_THREADS`), or the number of active cores.
    public static var defaultThreads: Int {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        guard let s = ProcessInfo.processInfo.environment["HALLU_THREADS"], !s.isEmpty else { return cores }
        if let n = Int(s.trimmingCharacters(in: .whitespaces)), n > 0 { return min(n, 256) }
        FileHandle.standardError.write(Data("hallu: warning: HALLU_THREADS=\(s) is not a positive integer; using \(cores) threads\n".utf8))
        return cores
    }

    /// Number of chunks `forEach(count:minChunk:)` cuts `count` items into: at most `threads`, and
    /// none smaller than `minChunk` items (one chunk when `count < 2 * minChunk`).
    public static func chunkCount(count: Int, minChunk: Int = 1) -> Int {
        guard count > 0 else { return 0 }
        let byWork = max(1, count / max(1, minChunk))
        return min(effectiveThreads, byWork, count)
    }

    /// `threads`, or less inside `withThreadLimit` on this thread.
    static var effectiveThreads: Int {
        let t = threads
        guard let limit = threadLimit.value else { return t }
        return min(t, limit)
    }

    /// Runs `body` with kernels called from this thread using at most `limit` threads (other
    /// threads are unaffected). Chunking follows the limit, so results are those of
    /// `threads == limit`.
    public static func withThreadLimit<R>(_ limit: Int, _ body: () throws -> R) rethrows -> R {
        try threadLimit.with(max(1, limit), body)
    }

    private static let threadLimit = ThreadSetting()

    /// The `index`-th of `chunks` nearly equal, contiguous pieces of `0..<count`.
    @inline(__always)
    public static func chunk(_ index: Int, of chunks: Int, count: Int) -> Range<Int> {
        (index * count / chunks)..<((index + 1) * count / chunks)
    }

    /// Runs `body` over contiguous pieces of `0..<count`, in parallel when there is enough work.
    ///
    /// - Parameters:
    ///   - count: number of items.
    ///   - minChunk: the least number of items worth handing to a thread; below `2 * minChunk` the
    ///     whole range runs inline on the calling thread.
    ///   - body: called once per piece; pieces never overlap and cover `0..<count`.
    public static func forEach(count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = chunkCount(count: count, minChunk: minChunk)
        if chunks == 0 { return }
        if chunks == 1 { body(0..<count); return }
        run(chunks: chunks) { i in body(chunk(i, of: chunks, count: count)) }
    }

    /// Runs `body(i)` for every `i` in `0..<chunks`, spread over the pool. The caller decides what a
    /// chunk is; each index runs exactly once.
    public static func run(chunks: Int, _ body: (Int) -> Void) {
        if chunks <= 0 { return }
        if chunks == 1 { body(0); return }
        if chunks > WorkerPool.maxChunks {
            // Group indices so the pool sees at most maxChunks pieces; each index still runs once.
            let groups = WorkerPool.maxChunks
            run(chunks: groups) { g in for i in chunk(g, of: groups, count: chunks) { body(i) } }
            return
        }
        let pool = state.withLock { $0.pool }
        if pool.threadCount == 1 || effectiveThreads == 1 || !pool.tryAcquire() {
            for i in 0..<chunks { body(i) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            pool.execute(chunks: chunks, escaping)
        }
        pool.release()
    }

    private struct State { var pool: WorkerPool }
    private static let state = Mutex(State(pool: WorkerPool(threads: defaultThreads)))
}

/// Worker threads that sleep on a condition variable after a short spin. Jobs are numbered by a
/// generation; a chunk is claimed with one compare-and-swap on the packed ticket
/// (generation, chunk count, next index), so a worker that wakes late can never claim a chunk of a
/// newer job on behalf of an older one. A worker touches the job's closure only while it holds a
/// claimed chunk, and the caller waits for every claimed chunk before it returns.
final class WorkerPool: @unchecked Sendable {
    let threadCount: Int
    /// generation << 32 | chunk count << 16 | next chunk index
    private let ticket = Atomic<UInt64>(0)
    private let finished = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private var body: ((Int) -> Void)?
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var sleepers = 0
    private var generation: UInt64 = 0
    private var threads: [pthread_t] = []

    /// Largest chunk count one job may have (the ticket keeps it in 16 bits).
    static let maxChunks = 0xffff

    /// How long an idle worker polls for the next job before it sleeps (in spin iterations,
    /// roughly 0.3-0.7 ms, the order of GNU OpenMP's default spin count). A training step runs
    /// a parallel op every few tens of microseconds but has serial stretches (graph bookkeeping,
    /// the loss, the optimiser's setup) longer than that; a worker asleep on a condition variable
    /// takes tens of microseconds to wake in a VM, and the caller meanwhile runs the whole job
    /// alone (docs/PERFORMANCE.md has the measurements).
    private let spinLimit = 300_000

    init(threads: Int) {
        threadCount = max(1, threads)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        for _ in 1..<threadCount { start() }
    }

    private func start() {
        var tid = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&tid, nil, { arg in
            let pool = Unmanaged<WorkerPool>.fromOpaque(arg!).takeRetainedValue()
            pool.workerLoop()
            return nil
        }, box)
        if rc == 0 { threads.append(tid) } else { Unmanaged<WorkerPool>.fromOpaque(box).release() }
    }

    func tryAcquire() -> Bool {
        busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    func release() { busy.store(false, ordering: .releasing) }

    /// Publishes a job of `n` (at most `maxChunks`) chunks, takes part in it, and returns once every
    /// chunk has finished.
    func execute(chunks n: Int, _ job: @escaping (Int) -> Void) {
        body = job
        finished.store(0, ordering: .relaxed)
        generation = (generation &+ 1) & 0xffff_ffff
        ticket.store(generation << 32 | UInt64(n) << 16, ordering: .releasing)
        pthread_mutex_lock(mutex)
        if sleepers > 0 { pthread_cond_broadcast(wake) }
        pthread_mutex_unlock(mutex)
        work(generation: generation)
        var spins = 0
        while finished.load(ordering: .acquiring) < n {
            spins += 1
            if spins > 2000 { sched_yield() }
        }
        body = nil
    }

    /// Claims and runs chunks of job `gen` until none are left.
    private func work(generation gen: UInt64) {
        while true {
            var cur = ticket.load(ordering: .acquiring)
            var claimed = -1
            while cur >> 32 == gen && (cur & 0xffff) < (cur >> 16) & 0xffff {
                let r = ticket.compareExchange(expected: cur, desired: cur + 1, ordering: .acquiringAndReleasing)
                if r.exchanged { claimed = Int(cur & 0xffff); break }
                cur = r.original
            }
            if claimed < 0 { return }
            runClaimed(claimed)
            finished.add(1, ordering: .releasing)
        }
    }

    @inline(never)
    private func runClaimed(_ index: Int) {
        body?(index)
    }

    private func workerLoop() {
        var seen: UInt64 = 0
        while true {
            var spins = 0
            var cur = ticket.load(ordering: .acquiring)
            while cur >> 32 == seen && !stopping.load(ordering: .relaxed) {
                spins += 1
                if spins < spinLimit {
                    cur = ticket.load(ordering: .acquiring)
                    continue
                }
                pthread_mutex_lock(mutex)
                sleepers += 1
                while ticket.load(ordering: .acquiring) >> 32 == seen && !stopping.load(ordering: .relaxed) {
                    pthread_cond_wait(wake, mutex)
                }
                sleepers -= 1
                pthread_mutex_unlock(mutex)
                cur = ticket.load(ordering: .acquiring)
                spins = 0
            }
            if stopping.load(ordering: .relaxed) { return }
            seen = cur >> 32
            work(generation: seen)
        }
    }

    /// Stops the workers once they are idle; used when the thread count changes.
    func shutdown() {
        while !tryAcquire() { sched_yield() }
        stopping.store(true, ordering: .releasing)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        for t in threads { pthread_join(t, nil) }
        threads.removeAll()
    }
}

/// A positive integer set for the calling thread only, inside `with` (a pthread key): how a
/// process-wide setting is overridden for one thread, e.g. by a test that runs beside others.
struct ThreadSetting: @unchecked Sendable {
    private let key: pthread_key_t

    init() {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        key = k
    }

    /// The value set on this thread, or nil outside `with`.
    var value: Int? { pthread_getspecific(key).map { Int(bitPattern: $0) } }

    /// Runs `body` with the value `v` (at least 1) on this thread, then restores the previous one.
    func with<R>(_ v: Int, _ body: () throws -> R) rethrows -> R {
        let old = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: max(1, v)))
        defer { pthread_setspecific(key, old) }
        return try body()
    }
}
