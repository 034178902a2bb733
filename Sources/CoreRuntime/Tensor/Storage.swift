import Foundation
import Synchronization

/// A reference-counted, 64-byte aligned float32 buffer. Tensors that are reshapes of one another share it.
public final class TensorStorage {
    /// Number of floats.
    public let count: Int
    /// The first float. Valid for the life of this object.
    public let pointer: UnsafeMutablePointer<Float>
    /// Whether the buffer came from `TensorArena` (else from malloc).
    private let fromArena: Bool

    /// Allocates uninitialised storage for `count` floats.
    public init(count: Int) {
        _ = TensorStorage.allocatorTuned
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        var raw: UnsafeMutableRawPointer?
        if bytes >= TensorArena.minimumBytes, let p = TensorArena.shared.allocate(bytes) {
            raw = p
            fromArena = true
        } else {
            posix_memalign(&raw, 64, bytes)
            fromArena = false
        }
        pointer = raw!.bindMemory(to: Float.self, capacity: max(count, 1))
        TensorMemory.allocated(bytes)
    }

    /// Allocates storage filled with `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(count: count)
        pointer.initialize(repeating: value, count: count)
    }

    deinit {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if fromArena { TensorArena.shared.free(UnsafeMutableRawPointer(pointer), bytes: bytes) } else { free(pointer) }
        TensorMemory.freed(bytes)
    }

    private typealias Mallopt = @convention(c) (Int32, Int32) -> Int32

    /// Training allocates and frees the same activation sizes every step. By default glibc serves
    /// large blocks with fresh `mmap`s and returns freed memory at once, so every step pays page
    /// faults and zeroing for memory it had a moment ago. Keeping blocks on the heap and not
    /// trimming it makes them reusable; `TensorMemory.releaseFreeMemory` trims between stages. (Tensor
    /// buffers of 32 KB and more come from `TensorArena`, which keeps its blocks the same way.)
    private static let allocatorTuned: Bool = {
        guard let h = dlopen(nil, RTLD_NOW), let f = dlsym(h, "mallopt") else { return false }
        let mallopt = unsafeBitCast(f, to: Mallopt.self)
        let mmapThreshold: Int32 = -3, trimThreshold: Int32 = -1
        _ = mallopt(mmapThreshold, 32 << 20)  // glibc's largest allowed value
        _ = mallopt(trimThreshold, Int32.max)
        return true
    }()
}

/// The bytes held by tensor storage: now, and the most at once since `resetPeak()`. This is the
/// memory a step's tensors need; the process's resident set adds the allocator's free lists,
/// code, the runtime and the BLAS library's buffers.
public enum TensorMemory {
    private static let live = Atomic<Int>(0)
    private static let peak = Atomic<Int>(0)

    /// Bytes held by live tensor storage.
    public static var liveBytes: Int { live.load(ordering: .relaxed) }
    /// The most bytes held at once since the last `resetPeak()`.
    public static var peakBytes: Int { peak.load(ordering: .relaxed) }
    /// Restarts the peak at the current live bytes.
    public static func resetPeak() { peak.store(live.load(ordering: .relaxed), ordering: .relaxed) }

    static func allocated(_ bytes: Int) {
        let now = live.add(bytes, ordering: .relaxed).newValue
        peak.max(now, ordering: .relaxed)
    }

    static func freed(_ bytes: Int) { live.subtract(bytes, ordering: .relaxed) }

    /// Gives free memory back to the system: the tensor arena's free blocks and the C heap's free
    /// pages. Called where a training stage starts and ends, so that what loading its data freed
    /// and what its steps freed do not stay resident beside the next thing that runs.
    public static func releaseFreeMemory() {
        TensorArena.shared.trim()
        _ = mallocTrim?(0)
    }

    private typealias MallocTrim = @convention(c) (Int) -> Int32
    /// glibc's `malloc_trim`, looked up at run time (not every C library has it).
    private static let mallocTrim: MallocTrim? = {
        guard let h = dlopen(nil, RTLD_NOW), let f = dlsym(h, "malloc_trim") else { return nil }
        return unsafeBitCast(f, to: MallocTrim.self)
    }()
}
